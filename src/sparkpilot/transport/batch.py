"""Several commands in one round trip: `run_many(runner, argvs, timeout) -> [CommandResult]`.

Over ssh each command costs a session, a login shell and two processes on this side; probing 16
hosts with ~25 commands each (and pinging every peer) is then bound by the two cores, not by the
hosts. `SshRunner.run_many` sends one POSIX sh script instead: every command starts at once in the
background under coreutils `timeout` (when the host has it), its stdout, stderr and exit code go to
a private temporary directory, and the script prints them back framed by byte counts, so any
output (binary, no trailing newline, lines that look like frames) comes back exactly.

A command that does not finish in time is rc 124, as with `run`. A runner without `run_many`
(local, replay) runs the commands one by one through `run`, in threads.
"""

from __future__ import annotations

import secrets
import shlex
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from sparkpilot.transport.base import CommandResult

RC_TIMEOUT = 124
RC_NO_RESULT = 125  # the command's exit code never arrived (should not happen; shown, not hidden)


def run_many(runner: Any, argvs: Sequence[Sequence[str]], timeout: float = 10.0,
             workers: int = 8) -> list[CommandResult]:
    """Run every argv on the runner's host, at once where the runner can; results in order."""
    argvs = [list(a) for a in argvs]
    if not argvs:
        return []
    many = getattr(runner, "run_many", None)
    if callable(many):
        return many(argvs, timeout=timeout)
    if len(argvs) == 1:
        return [runner.run(argvs[0], timeout=timeout)]
    with ThreadPoolExecutor(max_workers=min(workers, len(argvs))) as pool:
        return list(pool.map(lambda a: runner.run(a, timeout=timeout), argvs))


def script(argvs: Sequence[Sequence[str]], timeout: float, token: str) -> str:
    """The remote sh script: run all, wait, print `@@TOKEN i rc nout nerr` + out + err per command."""
    secs = max(1, int(timeout + 0.999))
    lines = [
        'd=$(mktemp -d 2>/dev/null || mktemp -d -t sparkpilot.XXXXXX) || exit 97',
        "trap 'rm -rf \"$d\"' EXIT",
        f'if command -v timeout >/dev/null 2>&1; then T="timeout -k 2 {secs}"; else T=""; fi',
    ]
    for i, argv in enumerate(argvs):
        lines.append(f'( $T {shlex.join(argv)} </dev/null >"$d/{i}.o" 2>"$d/{i}.e"; echo $? >"$d/{i}.r" ) &')
    lines.append("wait")
    lines.append(f'for i in $(seq 0 {len(argvs) - 1}); do '
                 f'printf "@@{token} %s %s %s %s\\n" "$i" "$(cat "$d/$i.r" 2>/dev/null || echo {RC_NO_RESULT})" '
                 f'"$(wc -c <"$d/$i.o")" "$(wc -c <"$d/$i.e")"; cat "$d/$i.o" "$d/$i.e"; done')
    return "\n".join(lines) + "\n"


def new_token() -> str:
    return "SPARKPILOT-" + secrets.token_hex(8)


def parse(data: bytes, count: int, token: str, seconds: float) -> list[CommandResult | None]:
    """Split the script's output back into results; None where a frame is missing."""
    results: list[CommandResult | None] = [None] * count
    head = f"@@{token} ".encode()
    pos = data.find(head)
    while pos != -1:
        end = data.find(b"\n", pos)
        if end == -1:
            break
        fields = data[pos + len(head):end].split()
        try:
            i, rc, n_out, n_err = (int(f) for f in fields[:4])
        except ValueError:
            break
        body = end + 1
        out, err = data[body:body + n_out], data[body + n_out:body + n_out + n_err]
        if 0 <= i < count:
            results[i] = CommandResult(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                                       seconds)
        pos = data.find(head, body + n_out + n_err)
    return results
