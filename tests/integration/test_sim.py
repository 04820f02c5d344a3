"""The simulated cluster itself: real ports and MTUs, stand-ins answering the probe table, sshd per
node, start time, and clean-up that leaves nothing behind (even when a start fails or its owner
is killed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim import Cluster, SimError
from sim.cluster import _netns_list

pytestmark = pytest.mark.slow
TESTS = Path(__file__).resolve().parent.parent


def in_node(node, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(node.exec_argv(*argv), capture_output=True, text=True, timeout=30)


def gone(pid: int, wait: float = 3.0) -> bool:
    """The process has ended (a zombie waiting for init to reap it counts as ended)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def leftovers(slot: int) -> list[str]:
    return [n for n in _netns_list() if n.startswith(f"spk{slot}-")]


def test_sixteen_nodes_start_and_all_answer(sim_factory):
    # how long a start takes is bench/sim_engine.py's (no wall-clock assert in a test)
    cluster = sim_factory(["healthy"] * 16, delay_scale=0)
    assert cluster.fabric == "switch"
    out = subprocess.run(["ssh", "-F", cluster.ssh_config, "-o", "BatchMode=yes", cluster.nodes[15].name,
                          "hostname"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == f"spark-{cluster.slot}-15"
    assert all(n.pid for n in cluster.nodes)


def test_ports_are_real_and_df_ping_sees_the_mtu(sim_cluster):
    ok, bad = sim_cluster.nodes[2], next(n for n in sim_cluster.nodes if n.profile == "mtu-1500")
    links = {link["ifname"]: link for link in json.loads(in_node(bad, "ip", "-j", "link").stdout)}
    assert {"enP7s7", "enp1s0f0np0", "enp1s0f1np1", "enP2p1s0f0np0", "enP2p1s0f1np1"} <= set(links)
    assert links["enp1s0f1np1"]["mtu"] == 9000 and links["enP2p1s0f1np1"]["mtu"] == 1500
    assert "NO-CARRIER" in links["enp1s0f0np0"]["flags"]
    addrs = json.loads(in_node(ok, "ip", "-j", "addr", "show", "enp1s0f1np1").stdout)
    assert addrs[0]["addr_info"][0]["local"] == ok.qsfp_ips["enp1s0f1np1"]
    good = in_node(ok, "ping", "-M", "do", "-s", "8972", "-c", "1", "-i", "0.2", "-w", "2",
                   sim_cluster.nodes[0].qsfp_ips["enP2p1s0f1np1"])
    assert good.returncode == 0, good.stdout + good.stderr
    big = in_node(bad, "ping", "-M", "do", "-s", "8972", "-c", "1", "-i", "0.2", "-w", "2", ok.qsfp_ips["enP2p1s0f1np1"])
    assert big.returncode != 0 and "mtu=1500" in big.stdout + big.stderr


def test_stand_ins_answer_every_probe_of_the_table(sim_cluster):
    from sparkpilot.probes import PROBES

    node = sim_cluster.nodes[0]
    unanswered = []
    for pid, probe in PROBES.items():
        res = in_node(node, *probe.argv)
        not_simulated = ("ethtool-module", "timedatectl")   # SOURCES.md
        if "simulated node has no recording" in res.stderr and pid not in not_simulated:
            unanswered.append(pid)
    assert unanswered == []
    smi = in_node(node, "nvidia-smi", "--query-gpu=bogus")
    assert smi.returncode == 2 and "no recording" in smi.stderr  # drift shows up, never a silent pass


def test_recorded_tree_is_what_probes_read(sim_cluster):
    gid4 = next(n for n in sim_cluster.nodes if n.profile == "gid-4")
    base = Path(gid4.root, "sys/class/infiniband/rocep1s0f1/ports/1")
    assert base.joinpath("gid_attrs/types/4").read_text().strip() == "RoCE v2"
    assert base.joinpath("gid_attrs/ndevs/4").read_text().strip() == "enp1s0f1np1"
    assert Path(sim_cluster.nodes[0].root, "proc/meminfo").read_text().startswith("MemTotal:")


def test_failed_start_leaves_nothing(monkeypatch):
    with pytest.raises(ValueError):
        Cluster.start(["healthy", "no-such-profile"])

    def broken(self):
        raise SimError("sshd refused to start (test)")

    monkeypatch.setattr(Cluster, "_start_sshds", broken)
    before = set(_netns_list())
    with pytest.raises(SimError):
        Cluster.start(["healthy", "healthy"])
    assert set(_netns_list()) == before


def test_slot_of_a_killed_owner_is_reclaimed():
    code = ("import sys, time; sys.path.insert(0, %r); from sim import Cluster; "
            "c = Cluster.start(['healthy', 'healthy'], delay_scale=0); "
            "print(c.slot, c.nodes[0].pid, flush=True); time.sleep(60)" % str(TESTS))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    slot, pid = (int(x) for x in proc.stdout.readline().split())
    assert leftovers(slot)
    proc.send_signal(signal.SIGKILL)  # no clean-up ran: namespaces and sshd are still there
    proc.wait()
    assert leftovers(slot)
    cluster = Cluster.start(["healthy"], delay_scale=0)  # reclaims the dead owner's slot
    try:
        assert gone(pid)
        if cluster.slot != slot:
            assert leftovers(slot) == []
    finally:
        cluster.stop()
    assert leftovers(cluster.slot) == []


def test_stop_removes_namespaces_processes_and_files(sim_factory):
    cluster = sim_factory(["healthy", "unreachable"], delay_scale=0)
    pids = [n.pid for n in cluster.nodes if n.pid]
    cluster.stop()
    cluster.stop()  # twice is fine
    assert leftovers(cluster.slot) == [] and not os.path.exists(cluster.dir)
    assert all(gone(pid) for pid in pids)


def test_sim_cluster_script_start_status_stop():
    script = str(TESTS.parent / "scripts" / "sim-cluster")
    out = subprocess.run([script, "start", "healthy", "driver-590", "--delay-scale", "0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    slot = int(out.stdout.split("(slot ")[1].split(")")[0])
    try:
        assert "driver-590" in out.stdout and "export SPARKPILOT_SSH_CONFIG=" in out.stdout
        assert leftovers(slot)
        status = subprocess.run([script, "status"], capture_output=True, text=True, timeout=30)
        assert f"slot {slot}: 2 nodes" in status.stdout and "kept" in status.stdout
        bad = subprocess.run([script, "start", "no-such-profile"], capture_output=True, text=True, timeout=30)
        assert bad.returncode == 2 and "unknown profile" in bad.stderr
    finally:
        stop = subprocess.run([script, "stop", str(slot)], capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0 and leftovers(slot) == []


def test_c_stand_ins_answer_exactly_as_the_sh_stand_ins(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from sim import node as nodefiles

    if nodefiles.standin_binary() is None:
        pytest.skip("no C compiler: the sh stand-ins are the ones in use")
    tables = {}
    for mode in ("c", "sh"):
        if mode == "sh":
            monkeypatch.setenv("SPARKPILOT_SIM_SH_STANDINS", "1")
        fake = SimpleNamespace(dir=str(tmp_path / mode))
        nodefiles.build_bin(fake, nodefiles.choices("driver-590"), delay_scale=0.0)
        tables[mode] = Path(fake.dir, "bin")
    assert (tables["c"] / "nvidia-smi").stat().st_nlink > 1 and (tables["sh"] / "nvidia-smi").read_text().startswith("#!")
    argvs = [list(a) for a in nodefiles._probe_argvs().values()] + [["ethtool", "-i", "enp1s0f0np0"],
                                                                   ["nvidia-smi", "--no-such-flag"]]
    for argv in argvs:
        got = {mode: subprocess.run([str(tables[mode] / argv[0])] + argv[1:], capture_output=True)
               for mode in tables}
        assert (got["c"].returncode, got["c"].stdout, got["c"].stderr) == \
            (got["sh"].returncode, got["sh"].stdout, got["sh"].stderr), argv
    assert got["c"].returncode == 2 and b"no recording for: --no-such-flag" in got["c"].stderr


def test_c_stand_in_sleeps_the_realistic_delay(tmp_path):
    """The C stand-in asks the kernel for the real tool's delay before it answers (read from its
    syscalls with strace: no wall-clock measurement)."""
    import re
    from types import SimpleNamespace

    from sim import node as nodefiles

    if nodefiles.standin_binary() is None:
        pytest.skip("no C compiler: the sh stand-ins are the ones in use")
    fake = SimpleNamespace(dir=str(tmp_path))
    nodefiles.build_bin(fake, nodefiles.choices("healthy"), delay_scale=1.0)
    argv = list(nodefiles._probe_argvs()["nvidia-smi"])
    trace = tmp_path / "trace"
    res = subprocess.run(["strace", "-f", "-e", "trace=nanosleep,clock_nanosleep", "-o", str(trace),
                          str(tmp_path / "bin" / argv[0]), *argv[1:]], capture_output=True, text=True)
    assert res.returncode == 0 and "GB10" in res.stdout
    sleeps = re.findall(r"tv_sec=(\d+), tv_nsec=(\d+)", trace.read_text())
    assert sleeps, trace.read_text()
    asked = int(sleeps[0][0]) + int(sleeps[0][1]) / 1e9
    assert asked == pytest.approx(nodefiles.DELAYS["nvidia-smi"], abs=1e-6)
