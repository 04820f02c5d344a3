"""Run many probes on a host in ONE remote command, each probe in parallel on the host.

Over SSH every command costs a process here and a round trip; a Spark answers 24 probes in the
time of its slowest one (nvidia-smi) when they run side by side there. So doctor sends one
`sh -c SCRIPT` per host: each probe's argv runs in the background under `timeout` (when the host
has it), its stdout, stderr and exit code go to a private temporary folder, and the script prints
them framed by a random marker. The argvs are exactly the probe table's (sparkpilot.probes).
"""

from __future__ import annotations

import re
import secrets
import shlex
from typing import Sequence

from sparkpilot.probes import Probe


def script(probes: Sequence[Probe], timeout: float, nonce: str) -> str:
    """Start every probe in the background (its own process, output to files), let one watchdog
    stop what outlives its time, collect the exit codes, then print everything with ONE cat: the
    fewest processes on the host besides the probes themselves."""
    n = len(probes)
    longest = max((p.timeout or timeout) for p in probes) if probes else timeout
    lines = ['d=$(mktemp -d 2>/dev/null) || { d=/tmp/sparkpilot.$$; mkdir -p "$d"; }']
    for i, p in enumerate(probes):
        lines.append(f'{shlex.join(p.argv)} >"$d/{i}.o" 2>"$d/{i}.e" </dev/null & p{i}=$!')
    pids = " ".join(f"$p{i}" for i in range(n))
    lines.append(f"( trap 'kill $s 2>/dev/null; exit 0' TERM; sleep {longest:g} & s=$!; wait $s; kill {pids} ) "
                 ">/dev/null 2>&1 </dev/null & w=$!")
    files = []
    for i in range(n):
        lines.append(f'wait $p{i}; printf "\\n=={nonce} {i} %s\\n" $? >"$d/{i}.h"; '
                     f'printf "\\n=={nonce} {i} err\\n" >"$d/{i}.m"')
        files += [f'"$d/{i}.h"', f'"$d/{i}.o"', f'"$d/{i}.m"', f'"$d/{i}.e"']
    lines.append('kill $w 2>/dev/null')
    lines.append(f'cat {" ".join(files)}; printf "\\n=={nonce} end\\n"; rm -rf "$d"')
    return "\n".join(lines)


def argv(probes: Sequence[Probe], timeout: float, nonce: str | None = None) -> tuple[list[str], str]:
    nonce = nonce or secrets.token_hex(6)
    return ["sh", "-c", script(probes, timeout, nonce)], nonce


def split(text: str, nonce: str, count: int) -> dict[int, tuple[int | None, str, str]] | None:
    """{index: (rc, stdout, stderr)} from the script's output; None when it is not whole."""
    if f"=={nonce} end" not in text:
        return None
    out: dict[int, tuple[int | None, str, str]] = {}
    pattern = re.compile(rf"\n=={nonce} (\d+) (-?\d+|err)\n|\n=={nonce} end\n")
    pieces = pattern.split("\n" + text)
    # pieces: [before, idx, tag, body, idx, tag, body, ..., None, None, after]
    i = 1
    current: dict[int, dict[str, object]] = {}
    while i + 2 < len(pieces) + 1 and i < len(pieces):
        idx, tag = pieces[i], pieces[i + 1]
        body = pieces[i + 2] if i + 2 < len(pieces) else ""
        i += 3
        if idx is None:
            break
        entry = current.setdefault(int(idx), {})
        if tag == "err":
            entry["err"] = body
        else:
            entry["rc"] = int(tag)
            entry["out"] = body
    for idx, entry in current.items():
        rc = entry.get("rc")
        if rc in (137, 143) and not entry.get("out"):   # stopped by the watchdog
            rc = 124
        out[idx] = (rc, str(entry.get("out", "")), str(entry.get("err", "")))  # type: ignore[arg-type]
    if len(out) != count:
        return None
    return out
