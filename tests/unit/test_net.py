"""sparkpilot net, fast parts: parsers on real recorded outputs (tests/data/net/SOURCES.md), the
cable map and topology, the plan's idempotence, the rollback scripts' syntax, CLI input errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sparkpilot.netcfg import rollback
from sparkpilot.netcfg.gather import NodeState, Profile, parse_state
from sparkpilot.netcfg.plan import make_plan
from sparkpilot.netcfg.topology import addresses, cable_map
from sparkpilot.probes.fabric import (
    Neighbour,
    parse_ethtool,
    parse_ib_write_bw,
    parse_ip_neigh,
    parse_nccl_tests,
    split_terse,
)
from sparkpilot.probes.netdev import Link, Links
from sparkpilot.probes.rdma import parse_ibdev2netdev

DATA = Path(__file__).resolve().parents[1] / "data" / "net"


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_ib_write_bw_real_outputs():
    healthy = parse_ib_write_bw(read("ib_write_bw_4qp.txt"))
    assert healthy.device == "rocep1s0f1" and healthy.qps == 4 and healthy.avg_gbps == 111.71
    degraded = parse_ib_write_bw(read("ib_write_bw_degraded.txt"))
    assert [r.avg_gbps for r in degraded.rows] == [13.33, 13.23] and degraded.qps is None


def test_nccl_tests_real_output():
    t = parse_nccl_tests(read("nccl_all_gather_pair.txt"))
    assert t.collective == "all_gather_perf" and t.ranks == 2 and t.wrong == 0
    assert [r.size for r in t.rows] == [1073741824, 2147483648, 4294967296]
    assert t.peak_busbw == 22.46 and t.avg_busbw == 21.4033


def test_ethtool_speed_real_lines_and_foreign_text():
    assert parse_ethtool(read("ethtool_speed_200g.txt")).mbps == 200000
    assert parse_ethtool(read("ethtool_speed_100g.txt")).mbps == 100000
    with pytest.raises(ValueError):
        parse_ethtool(read("ethtool_show_fec.txt"))
    for parser in (parse_ib_write_bw, parse_nccl_tests):
        with pytest.raises(ValueError):
            parser(read("ethtool_show_fec.txt"))


def test_nmcli_terse_and_neigh():
    assert split_terse(r"a\:b:ethernet:dev\\x:") == ["a:b", "ethernet", "dev\\x", ""]
    n = parse_ip_neigh('[{"dst":"fe80::1","dev":"enp1s0f1np1","lladdr":"30:c5:99:00:01:8c","state":["REACHABLE"]}]')
    assert n[0].mac == "30:c5:99:00:01:8c"
    with pytest.raises(ValueError):
        parse_ip_neigh('{"not": "a list"}')


def _node(name: str, i: int, peers: dict[str, tuple[int, str]], addrs: dict[str, str] | None = None) -> NodeState:
    macs = {"enp1s0f1np1": "8c", "enP2p1s0f1np1": "90", "enp1s0f0np0": "8b", "enP2p1s0f0np0": "8f"}
    links = [Link(p, 9000 if addrs else 1500, "UP", ["LOWER_UP"], f"30:c5:99:00:{i:02x}:{m}",
                  [addrs[p]] if addrs and p in addrs else [])
             for p, m in macs.items() if p in peers]
    neigh = [Neighbour("fe80::1", p, f"30:c5:99:00:{j:02x}:{macs[q]}") for p, (j, q) in peers.items()]
    st = NodeState(name, f"root@{name}", ib=parse_ibdev2netdev(read("ibdev2netdev.txt")), links=Links(links),
                   neighbours=neigh)
    return st


def test_cable_map_pair_and_ring_from_neighbours():
    pair = [_node("a", 0, {"enp1s0f1np1": (1, "enp1s0f1np1"), "enP2p1s0f1np1": (1, "enP2p1s0f1np1")}),
            _node("b", 1, {"enp1s0f1np1": (0, "enp1s0f1np1"), "enP2p1s0f1np1": (0, "enP2p1s0f1np1")})]
    fab = cable_map(pair)
    assert fab.topology == "pair" and len(fab.segments) == 2
    assert addresses(fab)[(1, "enP2p1s0f1np1")] == "192.168.101.11/24"
    # crossed cable: a's enp1 goes to b's enP2 -- the map follows the wire, not the names
    crossed = [_node("a", 0, {"enp1s0f1np1": (1, "enP2p1s0f1np1")}), _node("b", 1, {"enP2p1s0f1np1": (0, "enp1s0f1np1")})]
    assert cable_map(crossed).links == [((0, "enp1s0f1np1"), (1, "enP2p1s0f1np1"))]
    ring = [_node(str(i), i, {"enp1s0f1np1": ((i + 1) % 3, "enp1s0f0np0"), "enp1s0f0np0": ((i - 1) % 3, "enp1s0f1np1")})
            for i in range(3)]
    assert cable_map(ring).topology == "ring"
    lone = [_node("a", 0, {}), _node("b", 1, {})]
    assert cable_map(lone).topology == "none"


def test_plan_is_idempotent_when_everything_is_in_place():
    addrs = [{"enp1s0f1np1": "192.168.100.10/24"}, {"enp1s0f1np1": "192.168.100.11/24"}]
    states = [_node("a", 0, {"enp1s0f1np1": (1, "enp1s0f1np1")}, addrs[0]),
              _node("b", 1, {"enp1s0f1np1": (0, "enp1s0f1np1")}, addrs[1])]
    plan = make_plan(states)
    assert plan.changes == 4 and not plan.problems   # add + up per node, nothing to retire
    for st, a in zip(states, addrs, strict=True):
        st.profiles = [Profile("u", "sparkpilot-enp1s0f1np1", "enp1s0f1np1", True, "manual", [a["enp1s0f1np1"]],
                               "link-local", 9000, "enp1s0f1np1"),
                       Profile("w", "Wired connection 1", None, False, "auto", [], "auto", None, None)]
    assert make_plan(states).changes == 0


def test_gather_parses_nm_profiles():
    text = "\n".join(["## nm-dev", "enp1s0f1np1:ethernet:connected:sparkpilot-enp1s0f1np1",
                      "## nm-con", "u1:802-3-ethernet:enp1s0f1np1:/etc/NetworkManager/system-connections/x",
                      "## nm-profile u1", "connection.id:sparkpilot-enp1s0f1np1", "connection.uuid:u1",
                      "connection.interface-name:enp1s0f1np1", "connection.autoconnect:yes", "ipv4.method:manual",
                      "ipv4.addresses:192.168.100.10/24", "ipv6.method:link-local", "802-3-ethernet.mtu:9000",
                      "## meminfo", "MemAvailable:   115352986 kB", "## forward", "-P FORWARD DROP"])
    st = parse_state("a", "root@a", text)
    p = st.profiles[0]
    assert (p.name, p.device, p.mtu, p.ipv4_addresses) == ("sparkpilot-enp1s0f1np1", "enp1s0f1np1", 9000,
                                                          ["192.168.100.10/24"])
    assert st.mem_available_kb == 115352986 and st.forward == "-P FORWARD DROP"


def test_rollback_scripts_are_valid_sh():
    for script in (rollback.arm_script("20260101T000000", 60, ["enp1s0f1np1"]), rollback.cancel_script("x"),
                   rollback.fire_script("x"), rollback.undo_script(), rollback.undo_preview_script(),
                   rollback.RESTORE.format(etc="/e", run="/r"),
                   rollback.FIRE, rollback.TIMER.format(seconds=5)):
        proc = subprocess.run(["sh", "-n"], input=script, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (proc.stderr, script)


@pytest.mark.parametrize("args,msg", [
    ([], "needs the nodes"),
    (["--host", "local"], "user@host"),
    (["--host", "a@b", "--rollback-after", "3"], "at least 10"),
    (["--host", "a@b", "--drift"], "--drift goes with"),
])
def test_cli_bad_input_is_one_line_exit_2(args, msg):
    action = "check" if "--host" in args and "local" not in args and "--drift" not in args else "apply"
    proc = subprocess.run([sys.executable, "-m", "sparkpilot", "net", action, *args], capture_output=True,
                          text=True, check=False, timeout=30)
    assert proc.returncode == 2 and msg in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_netplan_that_would_be_ignored_or_fight_is_flagged_not_edited():
    from sparkpilot.probes.network import parse_netplan

    text = ("# file: /etc/netplan/40-cx7.yaml\nnetwork:\n  version: 2\n  renderer: networkd\n  ethernets:\n"
            "    enp1s0f1np1:\n      addresses: [192.168.100.10/24]\n      mtu: 9000\n"
            "# file: /etc/netplan/50-nm.yaml\nnetwork:\n  version: 2\n  ethernets:\n"
            "    enP2p1s0f1np1:\n      renderer: NetworkManager\n      addresses: [192.168.101.10/24]\n")
    pair = [_node("a", 0, {"enp1s0f1np1": (1, "enp1s0f1np1"), "enP2p1s0f1np1": (1, "enP2p1s0f1np1")}),
            _node("b", 1, {"enp1s0f1np1": (0, "enp1s0f1np1"), "enP2p1s0f1np1": (0, "enP2p1s0f1np1")})]
    pair[0].netplan = parse_netplan(text)
    plan = make_plan(pair)
    notes = plan.nodes[0].notes
    assert any("40-cx7.yaml configures enp1s0f1np1 for networkd" in n and "ignored" in n for n in notes), notes
    assert any("50-nm.yaml configures enP2p1s0f1np1 through NetworkManager too" in n for n in notes), notes
    assert not any("netplan" in s.text for s in plan.nodes[0].steps)   # flagged, never edited
