"""All probes of a host in one command: the same answers as one by one, and a watchdog that stops
a probe that does not answer in time (it becomes unknown, the others still count)."""

from __future__ import annotations

import subprocess
import time

from sparkpilot.facts import classify, run_batched
from sparkpilot.probes import PROBES, Probe, batch
from sparkpilot.transport.base import CommandResult


class Local:
    name = "local-test"

    def run(self, argv, timeout=10.0):
        start = time.monotonic()
        p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
        return CommandResult(p.returncode, p.stdout, p.stderr, time.monotonic() - start)

    def close(self):
        pass


def test_batch_gives_what_each_probe_gives_alone():
    probes = [PROBES[p] for p in ("meminfo", "os-release", "kernel", "ip-addr", "gids", "apt-holds")]
    together = run_batched(Local(), probes, 10.0)
    assert together is not None
    for p, res in zip(probes, together):
        alone = subprocess.run(list(p.argv), capture_output=True, text=True)
        single = classify(p, alone.returncode, alone.stdout, alone.stderr, 10.0)
        assert (res.rc, res.na) == (single.rc, single.na), p.id
        if p.id not in ("meminfo", "ip-addr"):   # these can change between the two reads
            assert res.stdout == alone.stdout, p.id


def test_watchdog_stops_a_probe_that_does_not_answer():
    slow = Probe("slow", ("sleep", "30"), "system:parse_kernel", "sleep", timeout=1.0)
    start = time.monotonic()
    res = run_batched(Local(), [PROBES["kernel"], slow], 1.0)
    assert time.monotonic() - start < 8
    kernel, stopped = res
    assert kernel.na is None and kernel.value.release
    assert stopped.na is not None and "did not answer within 1 s" in stopped.na.reason


def test_split_refuses_a_cut_answer():
    argv, nonce = batch.argv([PROBES["kernel"]], 5.0)
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    assert batch.split(out, nonce, 1) is not None
    assert batch.split(out.split(f"=={nonce} end")[0], nonce, 1) is None
