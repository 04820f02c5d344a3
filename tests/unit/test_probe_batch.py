"""All probes of a host in one command (facts.run_all over transport/batch.py): the same answers as
one by one, and a watchdog that stops a probe that does not answer in time (it becomes unknown,
the others still count)."""

from __future__ import annotations

import subprocess
import time

from sparkpilot.facts import classify, run_all
from sparkpilot.probes import PROBES, Probe
from sparkpilot.transport.local import LocalRunner


def test_batch_gives_what_each_probe_gives_alone():
    probes = [PROBES[p] for p in ("meminfo", "os-release", "kernel", "ip-addr", "gids", "apt-holds")]
    together = run_all(LocalRunner(), probes, 10.0)
    for p, res in zip(probes, together):
        alone = subprocess.run(list(p.argv), capture_output=True, text=True)
        single = classify(p, alone.returncode, alone.stdout, alone.stderr, 10.0)
        assert (res.rc, res.na) == (single.rc, single.na), p.id
        if p.id not in ("meminfo", "ip-addr"):   # these can change between the two reads
            assert res.stdout == alone.stdout, p.id


def test_watchdog_stops_a_probe_that_does_not_answer():
    slow = Probe("slow", ("sleep", "30"), "system:parse_kernel", "sleep", timeout=1.0)
    start = time.monotonic()
    kernel, stopped = run_all(LocalRunner(), [PROBES["kernel"], slow], 1.0)
    assert time.monotonic() - start < 8
    assert kernel.na is None and kernel.value.release
    assert stopped.na is not None and "did not answer within 1 s" in stopped.na.reason


def test_watchdog_leaves_no_sleeper_behind():
    from sparkpilot.transport import batch

    script = batch.script([["true"]], 97, batch.new_token())
    proc = subprocess.run(["sh", "-c", script], capture_output=True, timeout=20)
    assert proc.returncode == 0
    for _ in range(40):   # the watchdog sent TERM to its sleep; give it a moment to go
        left = subprocess.run(["pgrep", "-f", "^sleep 97$"], capture_output=True, text=True).stdout
        if not left:
            break
        time.sleep(0.05)
    assert left == ""


def test_runner_without_run_many_runs_the_probes_one_by_one():
    class Plain:   # a runner with run() only (like a recording)
        name = "plain"

        def run(self, argv, timeout=10.0):
            return LocalRunner().run(argv, timeout)

    kernel, os_release = run_all(Plain(), [PROBES["kernel"], PROBES["os-release"]], 5.0)
    assert kernel.value.release and os_release.na is None
