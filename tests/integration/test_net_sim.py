"""`sparkpilot net` end to end on simulated Sparks with a real NetworkManager each (tests/sim/nm.py).

Run as a user runs it: a new process, OpenSSH through the cluster's ssh_config, text or JSON out,
exit codes. The QSFP ports are real veths configured by the node's own NetworkManager through
nmcli; pings are real. ib_write_bw and nccl-tests are stand-ins printing recorded real outputs
(tests/sim/rdma.py): RDMA itself is not exercised.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim import nm, rdma

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _need_nm():
    why = nm.missing()
    if why:
        pytest.skip(why)


def net(cluster, *args: str, timeout: float = 180) -> tuple[int, str, dict | None]:
    argv = [sys.executable, "-m", "sparkpilot", "net", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, env=cluster.env(), timeout=timeout, check=False)
    data = json.loads(proc.stdout) if "--format" in args and proc.stdout.strip() else None
    return proc.returncode, proc.stdout + proc.stderr, data


def ip_state(node) -> dict[str, object]:
    """`ip -j addr` and `ip -j link` of the node, as the tests compare them."""
    out = {}
    for what in ("addr", "link"):
        proc = subprocess.run(["ip", "-n", node.netns, "-j", what, "show"], capture_output=True, text=True, check=True)
        out[what] = json.loads(proc.stdout)
    return out


def node_state(node) -> dict[str, object]:
    return {"keyfiles": nm.keyfiles(node), **ip_state(node)}


def settle(cluster, ports=("enp1s0f1np1", "enP2p1s0f1np1")) -> None:
    for n in cluster.nodes:
        nm.wait_settled(n, list(ports))


def configured_pair(sim_factory):
    cluster = sim_factory(["nm-dhcp", "nm-dhcp"])
    inv = cluster.inventory()
    rc, out, _ = net(cluster, "apply", "--inventory", inv, "--apply", "--rollback-after", "60")
    assert rc == 0, out
    settle(cluster)
    return cluster, inv


def test_pair_from_dhcp_profiles_to_a_verified_fabric(sim_factory):
    cluster = sim_factory(["nm-dhcp", "nm-dhcp"])
    inv = cluster.inventory()
    # DGX OS's state: NetworkManager's generic DHCP profiles on the QSFP ports
    profiles = nm.nmcli(cluster.nodes[0], "-t", "-f", "NAME,DEVICE", "connection", "show").stdout
    assert "Wired connection" in profiles

    rc, out, _ = net(cluster, "check", "--inventory", inv)
    assert rc == 1 and "tier 2 addresses: fail" in out and "no IPv4 address" in out, out

    rc, out, plan = net(cluster, "plan", "--inventory", inv, "--format", "json")
    assert rc == 0, out
    assert plan["plan"]["topology"] == "pair"
    cables = {(c["a"]["node"], c["a"]["port"], c["b"]["node"], c["b"]["port"]) for c in plan["plan"]["cables"]}
    a, b = cluster.nodes[0].name, cluster.nodes[1].name
    assert cables == {(a, "enp1s0f1np1", b, "enp1s0f1np1"), (a, "enP2p1s0f1np1", b, "enP2p1s0f1np1")}
    node0 = plan["plan"]["nodes"][0]
    assert node0["ports"] == {"enp1s0f1np1": "192.168.100.10/24", "enP2p1s0f1np1": "192.168.101.10/24"}
    commands = [c["command"] for c in node0["changes"]]
    assert any("802-3-ethernet.mtu 9000" in c and "ipv4.addresses 192.168.100.10/24" in c for c in commands)
    assert sum("connection.autoconnect no" in c for c in commands) == 2   # the DHCP profiles retired
    before = node_state(cluster.nodes[0])
    assert node_state(cluster.nodes[0])["keyfiles"] == before["keyfiles"]   # plan changed nothing

    rc, out, _ = net(cluster, "apply", "--inventory", inv)   # without --apply: shows, changes nothing
    assert rc == 0 and "add --apply" in out
    assert nm.keyfiles(cluster.nodes[0]) == before["keyfiles"]

    rc, out, _ = net(cluster, "apply", "--inventory", inv, "--apply", "--rollback-after", "60")
    assert rc == 0, out
    assert "don't-fragment pings (8972 bytes): 4/4 answered" in out
    assert "rollback cancelled" in out
    settle(cluster)
    rc, out, report = net(cluster, "check", "--inventory", inv, "--format", "json")
    assert rc == 0, out
    assert [t["status"] for t in report["tiers"]] == ["pass", "pass", "pass", "pass"]
    nccl = report["tiers"][3]["checks"][0]
    assert nccl["data"]["busbw_gbps"] == 22.46 and "-e" in nccl["data"]["argv"]
    env = report["env"][a]
    assert env["NCCL_IB_HCA"] == "rocep1s0f1,roceP2p1s0f1"    # both logical ports of the cable
    assert env["NCCL_SOCKET_IFNAME"] == env["GLOO_SOCKET_IFNAME"] == env["UCX_NET_DEVICES"] == "enp1s0f1np1"
    assert env["VLLM_HOST_IP"] == "192.168.100.10"

    # a second apply changes nothing
    files = nm.keyfiles(cluster.nodes[0])
    rc, out, data = net(cluster, "apply", "--inventory", inv, "--apply", "--format", "json")
    assert rc == 0 and data["applied"]["outcome"] == "unchanged", out
    assert nm.keyfiles(cluster.nodes[0]) == files

    # RDMA: a single-QP run reads low, 4 QPs on the same port are healthy -> artifact, pass
    rdma.set_variant(cluster.nodes[0], "single-qp-low")
    rc, out, _ = net(cluster, "check", "--inventory", inv, "--tiers", "3")
    assert rc == 0 and "the single-QP 13.33 Gb/s is an ib_write_bw artifact" in out, out
    # still low with 4 QPs: a fault, named
    rdma.set_variant(cluster.nodes[0], "degraded")
    rc, out, _ = net(cluster, "check", "--inventory", inv, "--tiers", "4")
    assert rc == 1 and "stopped at tier 3" in out and "hot-plugged cable" in out, out
    assert "tier 4" not in out


def test_mtu_1500_on_one_end_found_fixed_and_drift(sim_factory):
    cluster, inv = configured_pair(sim_factory)
    rc, out, _ = net(cluster, "check", "--inventory", inv, "--tiers", "2")
    assert rc == 0, out
    far = cluster.nodes[1]
    nm.nmcli(far, "connection", "modify", "sparkpilot-enP2p1s0f1np1", "802-3-ethernet.mtu", "1500")
    nm.nmcli(far, "connection", "up", "sparkpilot-enP2p1s0f1np1")
    rc, out, _ = net(cluster, "check", "--inventory", inv, "--drift")
    assert rc == 1 and "enP2p1s0f1np1: MTU 9000 -> 1500" in out, out
    rc, out, _ = net(cluster, "check", "--inventory", inv)
    assert rc == 1 and f"{far.name}: enP2p1s0f1np1: MTU 1500, not 9000" in out and "stopped at tier 2" in out, out
    rc, out, plan = net(cluster, "plan", "--inventory", inv, "--format", "json")
    changes = [c["command"] for n in plan["plan"]["nodes"] for c in n["changes"]]
    assert changes == ["nmcli connection modify sparkpilot-enP2p1s0f1np1 802-3-ethernet.mtu 9000",
                       "nmcli connection up sparkpilot-enP2p1s0f1np1"], changes
    broken = nm.keyfiles(far)
    rc, out, _ = net(cluster, "apply", "--inventory", inv, "--apply")
    assert rc == 0, out
    rc, out, _ = net(cluster, "check", "--inventory", inv, "--tiers", "2")
    assert rc == 0, out
    # undo: shows the snapshot first, restores it only with --apply (here: back to MTU 1500)
    rc, out, _ = net(cluster, "undo", "--inventory", inv)
    assert rc == 0 and "add --apply" in out and "sparkpilot-enP2p1s0f1np1 (on disk)" in out, out
    assert nm.keyfiles(far) != broken
    rc, out, _ = net(cluster, "undo", "--inventory", inv, "--apply")
    assert rc == 0, out
    settle(cluster)
    assert nm.keyfiles(far) == broken
    rc, out, _ = net(cluster, "check", "--inventory", inv, "--tiers", "2")
    assert rc == 1 and "MTU 1500, not 9000" in out, out


def test_both_rails_on_one_subnet(sim_factory):
    cluster = sim_factory(["nm-dhcp", "nm-dhcp"])
    inv = cluster.inventory()
    for n in cluster.nodes:   # NVIDIA's older layout: both logical ports on one /24
        for k, port in enumerate(("enp1s0f1np1", "enP2p1s0f1np1")):
            nm.nmcli(n, "connection", "add", "type", "ethernet", "con-name", f"cx7-{port}", "ifname", port,
                     "ipv4.method", "manual", "ipv4.addresses", f"192.168.100.{10 + n.index + 100 * k}/24",
                     "802-3-ethernet.mtu", "9000")
            nm.nmcli(n, "connection", "up", f"cx7-{port}")
    rc, out, _ = net(cluster, "check", "--inventory", inv)
    assert rc == 1 and "are both on 192.168.100.0/24" in out and "one subnet per logical port" in out, out
    rc, out, _ = net(cluster, "plan", "--inventory", inv)
    assert "192.168.101.10/24" in out and "retire `cx7-enP2p1s0f1np1`" in out, out
    rc, out, _ = net(cluster, "apply", "--inventory", inv, "--apply")
    assert rc == 0, out
    settle(cluster)
    rc, out, _ = net(cluster, "check", "--inventory", inv, "--tiers", "2")
    assert rc == 0 and "one subnet per segment" in out, out


def test_a_plan_that_cuts_the_peer_off_rolls_back(sim_factory, tmp_path):
    cluster, inv = configured_pair(sim_factory)
    before = [node_state(n) for n in cluster.nodes]
    bad = tmp_path / "bad.yaml"   # the peers' addresses on different subnets: nothing answers
    bad.write_text("nodes:\n" + "".join(
        f"  - name: {n.name}\n    ssh: {n.ssh_spec}\n    interconnect: [10.{n.index}.0.1, 10.{n.index}.1.1]\n"
        for n in cluster.nodes))
    start = time.monotonic()
    rc, out, _ = net(cluster, "apply", "--inventory", str(bad), "--apply", "--rollback-after", "60")
    took = time.monotonic() - start
    assert rc == 1 and "no answer" in out and "rolling back every node" in out, out
    assert took < 60   # back well within the deadline
    settle(cluster)
    assert [node_state(n) for n in cluster.nodes] == before
    rc, out, _ = net(cluster, "check", "--inventory", inv, "--tiers", "2")
    assert rc == 0, out


def _snapshot_dirs(node) -> list[Path]:
    d = Path(node.dir, "root/var/lib/sparkpilot/net")
    return sorted(p for p in d.iterdir() if p.is_dir()) if d.is_dir() else []


def test_ssh_session_lost_during_apply_host_timer_rolls_back(sim_factory):
    cluster = sim_factory(["nm-dhcp", "nm-dhcp"])
    inv = cluster.inventory()
    before = [node_state(n) for n in cluster.nodes]
    argv = [sys.executable, "-m", "sparkpilot", "net", "apply", "--inventory", inv, "--apply",
            "--rollback-after", "12"]
    proc = subprocess.Popen(argv, env=cluster.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:   # the session dies once the change has reached the hosts
        deadline = time.monotonic() + 60
        while not all(any(k.endswith("sparkpilot-enp1s0f1np1.nmconnection") for k in nm.keyfiles(n))
                      for n in cluster.nodes):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)   # sparkpilot and its ssh clients, all ours
    finally:
        proc.wait(timeout=30)
    snaps = [_snapshot_dirs(n)[-1] for n in cluster.nodes]
    assert all((s / "armed").exists() or (s / "restored").exists() for s in snaps)
    deadline = time.monotonic() + 60
    while not all((s / "restored").exists() for s in snaps):
        assert time.monotonic() < deadline, "the hosts' own timers did not roll back"
        time.sleep(0.2)
    assert all((s / "restored").read_text().strip() == "0" for s in snaps)
    time.sleep(1)
    assert [n_state["keyfiles"] for n_state in (node_state(n) for n in cluster.nodes)] == [b["keyfiles"] for b in before]
    assert [ip_state(n)["link"] for n in cluster.nodes] == [b["link"] for b in before]


def test_ring_of_three(sim_factory):
    cluster = sim_factory(["nm-ring"] * 3, fabric="ring")
    inv = cluster.inventory()
    rc, out, plan = net(cluster, "plan", "--inventory", inv, "--format", "json")
    assert rc == 0, out
    assert plan["plan"]["topology"] == "ring" and len(plan["plan"]["cables"]) == 6
    names = [n.name for n in cluster.nodes]
    ends = {(c["a"]["node"], c["a"]["port"], c["b"]["node"], c["b"]["port"]) for c in plan["plan"]["cables"]}
    assert (names[0], "enp1s0f1np1", names[1], "enp1s0f0np0") in ends    # cage 1 -> next node's cage 0
    assert (names[0], "enp1s0f0np0", names[2], "enp1s0f1np1") in ends
    rc, out, _ = net(cluster, "apply", "--inventory", inv, "--apply")
    assert rc == 0 and "12/12 answered" in out, out
    settle(cluster, ("enp1s0f1np1", "enP2p1s0f1np1", "enp1s0f0np0", "enP2p1s0f0np0"))
    rc, out, report = net(cluster, "check", "--inventory", inv, "--format", "json")
    assert rc == 0, out
    status = [t["status"] for t in report["tiers"]]
    assert status == ["pass", "pass", "pass", "unknown"], report["tiers"]   # no 3-rank NCCL recording
    env = report["env"][names[0]]
    assert env["NCCL_IB_HCA"] == "rocep1s0f0,rocep1s0f1,roceP2p1s0f0,roceP2p1s0f1"
    assert env["NCCL_IB_SUBNET_AWARE_ROUTING"] == "1" and env["NCCL_NET_PLUGIN"] == "none"
    assert env["NCCL_SOCKET_IFNAME"] == "<NCCL_SOCKET_IFNAME>"   # bootstrap over management on a ring
    rc, out, data = net(cluster, "apply", "--inventory", inv, "--apply", "--format", "json")
    assert rc == 0 and data["applied"]["outcome"] == "unchanged"


def test_switch_port_at_100g_named(sim_factory):
    cluster = sim_factory(["nm-100g", "nm-dhcp"])
    inv = cluster.inventory()
    rc, out, _ = net(cluster, "check", "--inventory", inv)
    assert rc == 1 and "stopped at tier 1" in out and "100000Mb/s: the switch port negotiated 100G" in out, out
