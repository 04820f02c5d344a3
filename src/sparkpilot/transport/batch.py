"""Several commands in one round trip: `run_many(runner, argvs, timeout) -> [CommandResult]`.

Over ssh each command costs a session, a login shell and two processes on this side; probing 16
hosts with ~25 commands each (and pinging every peer) is then bound by the two cores, not by the
hosts. `SshRunner.run_many` sends one POSIX sh script instead: every command starts at once in the
background, its stdout and stderr go to a private temporary directory, one watchdog stops what
runs over, and the script prints everything back framed by byte counts, so any output (binary,
no trailing newline, lines that look like frames) comes back exactly.

A command that does not finish in time is rc 124, as with `run`. SshRunner and LocalRunner run
the script (`run_script`) as their `run_many`; other runners (replay) inherit Runner.run_many,
`run` in threads. doctor's probes and pings go through here (facts.run_all).
"""

from __future__ import annotations

import re
import secrets
import shlex
import time
from collections.abc import Callable, Sequence

from sparkpilot.transport.base import CommandResult, Runner

RC_TIMEOUT = 124
SLACK = 10.0  # seconds the whole script may take beyond the commands' timeout
RunBytes = Callable[[list[str], float], "tuple[int | None, bytes, bytes]"]


def run_many(runner: Runner, argvs: Sequence[Sequence[str]], timeout: float = 10.0) -> list[CommandResult]:
    """Run every argv on the runner's host, at once; results in order (`runner.run_many`)."""
    todo = [list(a) for a in argvs]
    return runner.run_many(todo, timeout=timeout) if todo else []


def run_script(runner: Runner, argvs: Sequence[Sequence[str]], timeout: float,
               run_bytes: RunBytes) -> list[CommandResult]:
    """`run_many` for a runner that runs a shell: `run_bytes(["sh", "-c", SCRIPT], limit)` gives
    (rc or None when it ran over `limit`, stdout, stderr) as bytes. Commands whose result did not
    come back (a host without mktemp, a cut answer) run again one by one with `runner.run`; when the
    whole script ran over, those are rc 124."""
    argvs = [[str(a) for a in argv] for argv in argvs]
    if any(not a for a in argvs):
        raise ValueError("empty argv")
    if not argvs:
        return []
    start = time.monotonic()
    token = new_token()
    rc, out, _err = run_bytes(["sh", "-c", script(argvs, timeout, token)], timeout + SLACK)
    seconds = time.monotonic() - start
    results = parse(out, len(argvs), token, seconds)
    if rc is None:
        note = f"sparkpilot: timed out after {timeout:g}s on {runner.name}\n"
        return [res or CommandResult(RC_TIMEOUT, "", note, seconds) for res in results]
    return [res if res is not None else runner.run(argv, timeout) for res, argv in zip(results, argvs, strict=False)]


def script(argvs: Sequence[Sequence[str]], timeout: float, token: str) -> str:
    """The remote sh script. Every command starts in the background with its output in files; one
    watchdog stops what outlives `timeout` (its exit code then reads 124); then one `wc -c` and one
    `cat` send everything back: `@@TOKEN rc ...`, the byte counts, `@@TOKEN data`, the bytes.
    A fixed few processes on the host besides the commands (mktemp, the watchdog sleep, wc, cat, rm),
    whatever their number."""
    n = len(argvs)
    secs = max(1, int(timeout + 0.999))
    lines = ['d=$(mktemp -d 2>/dev/null || mktemp -d -t sparkpilot.XXXXXX) || exit 97',
             "trap 'rm -rf \"$d\"' EXIT"]
    for i, argv in enumerate(argvs):
        lines.append(f'{_command(argv)} </dev/null >"$d/{i}.o" 2>"$d/{i}.e" & p{i}=$!')
    pids = " ".join(f"$p{i}" for i in range(n))
    # the watchdog leaves its sleep's pid in "$d/w"; at the end the script marks "$d/done" and kills
    # that sleep (never the watchdog itself, which could die before writing the pid and orphan its
    # sleep), so no sleeper stays behind on the host and a finished batch kills nothing
    lines.append(f'( sleep {secs} & echo $! >"$d/w"; wait $!; [ -e "$d/done" ] || {{ : >"$d/late"; kill {pids}; }} ) '
                 '>/dev/null 2>&1 </dev/null & w=$!')
    for i in range(n):
        lines.append(f'wait $p{i}; r{i}=$?')
    lines.append(': >"$d/done"; i=0; while [ ! -s "$d/w" ] && [ $i -lt 200000 ]; do i=$((i+1)); done')
    lines.append('[ -s "$d/w" ] && read s <"$d/w" && kill $s 2>/dev/null; wait $w 2>/dev/null')
    lines.append('[ -e "$d/late" ] && late=1 || late=0')
    rcs = " ".join(f"$r{i}" for i in range(n))
    files = " ".join(f'"$d/{i}.o" "$d/{i}.e"' for i in range(n))
    lines.append(f'printf "@@{token} %s %s\\n" "$late" "{rcs}"')
    lines.append(f'wc -c {files}')
    lines.append(f'printf "@@{token} data\\n"')
    lines.append(f'cat {files}')
    return "\n".join(lines) + "\n"


_PARAMS = re.compile(r"\$\{?[0-9@*#$!-]|\bshift\b|\bexec\b|\btrap\b")


def _command(argv: Sequence[str]) -> str:
    """The command as the script starts it. `sh -c SCRIPT` (most probes) runs as a `{ SCRIPT }`
    group in the script's own background subshell: the same POSIX sh, one exec of sh fewer per
    command. Only when SCRIPT uses nothing that differs there ($0, $1.., $@, $$, shift, exec, trap)."""
    if len(argv) == 3 and argv[0] == "sh" and argv[1] == "-c" and argv[2].strip() \
            and not _PARAMS.search(re.sub(r"'[^']*'", "", argv[2])):   # no expansion in '...'
        return "{ " + argv[2] + "\n}"
    return shlex.join(argv)


def new_token() -> str:
    return "SPARKPILOT-" + secrets.token_hex(8)


def parse(data: bytes, count: int, token: str, seconds: float) -> list[CommandResult | None]:
    """Split the script's output back into results; all None when it did not come back whole."""
    none: list[CommandResult | None] = [None] * count
    head, mark = f"@@{token} ".encode(), f"@@{token} data\n".encode()
    pos, data_at = data.find(head), data.find(mark)
    if pos == -1 or data_at == -1:
        return none
    first = data[pos + len(head):data.find(b"\n", pos)].split()
    try:
        late, rcs = first[0] == b"1", [int(x) for x in first[1:]]
        sizes = [int(line.split()[0]) for line in data[data.find(b"\n", pos) + 1:data_at].splitlines()
                 if line.strip()][:2 * count]
    except (ValueError, IndexError):
        return none
    if len(rcs) != count or len(sizes) != 2 * count:
        return none
    body = data_at + len(mark)
    out: list[CommandResult | None] = []
    for i in range(count):
        n_out, n_err = sizes[2 * i], sizes[2 * i + 1]
        stdout, stderr = data[body:body + n_out], data[body + n_out:body + n_out + n_err]
        body += n_out + n_err
        rc = rcs[i]
        if late and rc in (128 + 15, 128 + 9):  # stopped by the watchdog
            rc = RC_TIMEOUT
        out.append(CommandResult(rc, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"), seconds))
    return out
