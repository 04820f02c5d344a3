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
    for p, res in zip(probes, together, strict=False):
        alone = subprocess.run(list(p.argv), capture_output=True, text=True)
        single = classify(p, alone.returncode, alone.stdout, alone.stderr, 10.0)
        assert (res.rc, res.na) == (single.rc, single.na), p.id
        if p.id not in ("meminfo", "ip-addr"):   # these can change between the two reads
            assert res.stdout == alone.stdout, p.id


def test_watchdog_stops_a_probe_that_does_not_answer():
    slow = Probe("slow", ("sleep", "30"), "system:parse_kernel", "sleep", timeout=1.0)
    kernel, stopped = run_all(LocalRunner(), [PROBES["kernel"], slow], 1.0)
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
    from sparkpilot.transport.base import Runner

    class Plain(Runner):   # a runner with run() only (like a recording): Runner.run_many runs them
        name = "plain"

        def run(self, argv, timeout=10.0):
            return LocalRunner().run(argv, timeout)

    kernel, os_release = run_all(Plain(), [PROBES["kernel"], PROBES["os-release"]], 5.0)
    assert kernel.value.release and os_release.na is None


# -- don't-fragment pings riding with the probes (pings.early_pings) -------------------------------

def _recorded(name):
    import json
    from pathlib import Path

    return json.loads((Path(__file__).resolve().parent.parent / "data/probes/ping" / f"{name}.json").read_text())


class PingRunner:
    """Answers every ping with one recorded real output; counts the round trips."""

    def __init__(self, name, recording):
        self.name, self.rec, self.calls = name, _recorded(recording), []

    def run_many(self, argvs, timeout=10.0):
        from sparkpilot.transport.base import CommandResult

        self.calls.append([list(a) for a in argvs])
        return [CommandResult(self.rec["rc"], self.rec["stdout"], self.rec["stderr"], 0.01) for _ in argvs]

    def run(self, argv, timeout=10.0):
        return self.run_many([argv], timeout)[0]


def test_pings_to_inventory_addresses_ride_with_the_probes_and_only_a_wrong_size_is_sent_again(monkeypatch):
    from sparkpilot.facts import pings
    from sparkpilot.facts import ClusterFacts, HostFacts, classify
    from sparkpilot.probes import ping_probe

    a = HostFacts("user@a", interconnect=["10.77.0.1"])
    b = HostFacts("user@b", interconnect=["10.77.0.2"])
    early = pings.early_pings([a, b])
    assert [list(p.argv) for p in early[0]] == [list(ping_probe("10.77.0.2", 9000).argv)]
    assert "8972" in early[1][0].argv
    # what the probe batch brought back: a's ping at 9000 answered; b's port turned out to be 1500
    ok, too_big = _recorded("df_9000_ok"), _recorded("df_9000_over_mtu_1500")
    a.early_pings = {early[0][0].argv: classify(early[0][0], ok["rc"], ok["stdout"], ok["stderr"], 5)}
    b.early_pings = {early[1][0].argv: classify(early[1][0], too_big["rc"], too_big["stdout"], "", 5)}
    monkeypatch.setattr(pings, "mtu_towards", lambda src, addr: 9000 if src is a else 1500)
    ra, rb = PingRunner("a", "df_9000_ok"), PingRunner("b", "df_9000_ok")
    got = {(p.source, p.size): p for p in pings.run_pings(ClusterFacts(hosts=[a, b]), {0: ra, 1: rb}, 5)}
    assert ra.calls == []                                   # a's answer came with its probes
    assert got[("user@a", 8972)].ok is True
    assert rb.calls == [[list(ping_probe("10.77.0.1", 1500).argv)]]   # b again, at its MTU - 28
    assert got[("user@b", 1472)].ok is True and ("user@b", 8972) not in got


def test_no_early_pings_without_inventory_addresses_or_peers():
    from sparkpilot.facts import pings
    from sparkpilot.facts import HostFacts

    assert pings.early_pings([HostFacts("a"), HostFacts("b")]) == {}
    assert pings.early_pings([HostFacts("a", interconnect=["10.0.0.1"])]) == {}
