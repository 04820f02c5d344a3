"""One probe's command and outcome: `classify` turns (rc, stdout, stderr) into a parsed value or
an NA with a reason; `run_all` runs many probes in one round trip (`runner.run_many`).
"""

from __future__ import annotations

import re
import time

from sparkpilot.errors import TransportError
from sparkpilot.facts.model import NA, NOT_RECORDED, SUDO_REFUSED, HostFacts, ProbeResult
from sparkpilot.probes import Probe
from sparkpilot.transport.base import Runner


def classify(probe: Probe, rc: int | None, stdout: str, stderr: str, timeout: float) -> ProbeResult:
    """Turn one command's outcome into a parsed value or an NA with a reason (pure)."""
    res = ProbeResult(probe.id, list(probe.argv), rc=rc, stdout=stdout, stderr=stderr)
    err = stderr.strip().splitlines()[0][:160] if stderr.strip() else ""
    tool = probe.tool
    if NOT_RECORDED in stderr:
        res.na = NA(f"{probe.id} is not in the recording")
        return res
    if rc in (None, 124):
        res.na = NA(f"{tool} did not answer within {timeout:g} s")
        return res
    if any(s in stderr or s in stdout for s in SUDO_REFUSED) and not _has_data(probe, stdout):
        res.na = NA(f"needs passwordless sudo for {tool}")
        return res
    if rc == 127 or (re.search(r"(command )?not found", err) and not stdout.strip()):
        res.na = NA(f"{tool} is not installed on the host")
        return res
    if rc not in probe.ok_rc and not stdout.strip():
        if "No such file" in stderr:
            res.na = NA(f"{tool} does not exist on the host")
        else:
            res.na = NA(f"{tool} failed (exit {rc}){': ' + err if err else ''}")
        return res
    try:
        res.value = probe.parse(stdout)
    except Exception as exc:  # noqa: BLE001 - any parser failure is an unknown, never a crash
        reason = f"could not read the output of {tool}: {exc}"
        if rc not in probe.ok_rc:
            reason = f"{tool} failed (exit {rc}): {err or exc}"
        res.na = NA(reason[:200])
    return res


def _has_data(probe: Probe, stdout: str) -> bool:
    return (probe.id in ("netplan", "ethtool-module") and "## " in stdout) or "# file:" in stdout


def run_probe(runner: Runner, probe: Probe, timeout: float) -> ProbeResult:
    """Run one probe; TransportError (host gone) propagates, everything else becomes an NA."""
    t = probe.timeout or timeout
    start = time.monotonic()
    wall = time.time()
    try:
        out = runner.run(list(probe.argv), timeout=t)
    except TransportError:
        raise
    except (OSError, ValueError) as exc:
        res = ProbeResult(probe.id, list(probe.argv), na=NA(f"could not run {probe.tool}: {exc}"))
        return res
    res = classify(probe, out.rc, out.stdout, out.stderr, t)
    res.seconds = out.seconds if out.seconds else time.monotonic() - start
    res.local_start, res.local_end = wall, time.time()
    return res


def clock_offset(facts: HostFacts) -> tuple[float, float] | None:
    """(offset of the host's clock from this machine's, uncertainty) in seconds; None on
    recordings or when unknown."""
    res = facts.results.get("clock")
    if facts.recorded or res is None or res.value is None or not res.local_end:
        return None
    mid = (res.local_start + res.local_end) / 2
    return res.value.epoch - mid, (res.local_end - res.local_start) / 2


def run_all(runner: Runner, probes: list[Probe], timeout: float) -> list[ProbeResult]:
    """Every probe in one remote command where the runner can (`runner.run_many`: over ssh each
    probe side by side on the host, framed by byte counts). TransportError (host gone) propagates."""
    longest = max(p.timeout or timeout for p in probes)
    wall = time.time()
    outs = runner.run_many([list(p.argv) for p in probes], timeout=longest)
    end = time.time()
    results = []
    for p, out in zip(probes, outs, strict=False):
        res = classify(p, out.rc, out.stdout, out.stderr, p.timeout or timeout)
        res.seconds = out.seconds
        res.local_start, res.local_end = wall, end
        results.append(res)
    return results


def one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0][:200] if lines else "no answer"
