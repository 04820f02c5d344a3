"""Doctor checks over facts built from recorded outputs (fixtures and shipped replays)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkpilot.checks import evaluate, registry, run_host_checks
from sparkpilot.facts import ClusterFacts, HostFacts, classify, collect, collect_host
from sparkpilot.probes import PROBES
from sparkpilot.transport.replay import ReplayRunner

DATA = Path(__file__).resolve().parent.parent / "data" / "probes"


def case(pid: str, name: str) -> dict:
    return json.loads((DATA / pid / f"{name}.json").read_text())


def facts(**cases: str) -> HostFacts:
    """HostFacts whose probes answered with the named fixture cases; the rest were not run."""
    h = HostFacts("test-host")
    for pid, name in cases.items():
        pid = pid.replace("_", "-")
        c = case(pid, name)
        h.results[pid] = classify(PROBES[pid], c["rc"], c["stdout"], c.get("stderr", ""), 10.0)
    return h


def replay(name: str) -> HostFacts:
    runner = ReplayRunner(name)
    return collect_host(runner, HostFacts(runner.name), 5.0)


def result(h: HostFacts, name: str, cluster=None):
    return next(r for r in run_host_checks(h, cluster) if r.name == name)


def test_registry_ids_and_names_unique_and_documented():
    from sparkpilot import knowledge

    checks = registry()
    assert len({c.id for c in checks}) == len(checks) == len({c.name for c in checks})
    doc = {e["id"]: e for e in knowledge.load("checks")}
    for c in checks:
        assert doc[c.id]["name"] == c.name and doc[c.id]["why"] and doc[c.id]["fix"]
    names = {c.name for c in checks}
    assert {"gb10", "driver-version", "driver-held", "stack-versions", "page-cache", "memory-budget", "mtu",
            "netplan-ignored", "roce-gid", "qsfp-ports", "thermals", "peer-reachable", "mtu-match",
            "stack-match", "clock-sync"} <= names


@pytest.mark.parametrize("drv,status", [("gb10_memory_na", "pass"), ("gb10_spark_3bee", "pass")])
def test_driver_580_passes(drv, status):
    r = result(facts(nvidia_smi=drv), "driver-version")
    assert r.status == status and r.data["branch"] == 580


def test_driver_590_fails_with_cudagraph_reason():
    r = result(replay("broken"), "driver-version")
    assert r.status == "fail" and "CUDAGraph deadlock" in r.message and r.data["driver"] == "590.48.01"


def test_gb10_identified_and_unknown_when_nvidia_smi_missing():
    assert result(facts(nvidia_smi="gb10_memory_na"), "gb10").status == "pass"
    r = result(facts(nvidia_smi="not_installed", os_release="debian_12_dev_machine"), "gb10")
    assert r.status == "fail" and "Debian GNU/Linux 12" in r.message and "not a GB10" in r.message


def test_page_cache_on_real_gb10_meminfo_fails_with_drop_caches_fix():
    r = result(facts(meminfo="gb10_reference_box"), "page-cache")
    # Cached 69323224 + Buffers 5256824 kB of 125483396 kB = 59 %
    assert r.status == "fail" and r.data["share"] == pytest.approx(0.594, abs=0.001)
    assert r.commands == [["sudo", "-n", "sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"]]


def test_memory_budget_gives_utilisation_from_memavailable():
    r = result(facts(meminfo="gb10_reference_box"), "memory-budget")
    # MemAvailable 94849180 / MemTotal 125483396 = 0.755
    assert r.status == "warn" and r.data["max_gpu_memory_utilization"] == 0.75


def test_unknown_is_never_a_pass():
    h = HostFacts("h")   # no probe ran
    for r in run_host_checks(h):
        assert r.status in ("unknown", "skip"), (r.name, r.status)


def test_unreachable_host_all_unknown():
    h = HostFacts("h", reachable=False, reason="ssh: connect to host h port 22: Connection refused")
    rs = run_host_checks(h)
    assert {r.status for r in rs} == {"unknown"} and all("Connection refused" in r.message for r in rs)


def test_mtu_1500_on_cabled_port_fails_and_fix_uses_nmcli():
    r = result(replay("broken"), "mtu")
    assert r.status == "fail" and "enp1s0f1np1 (1500)" in r.message and "802-3-ethernet.mtu 9000" in r.fix


def test_mtu_fix_commands_name_the_nm_connection():
    h = replay("broken")
    c = case("nmcli", "terse_unmanaged_and_vpn")["stdout"].replace("eth0", "enp1s0f1np1")
    h.results["nmcli"] = classify(PROBES["nmcli"], 0, c, "", 10.0)
    r = result(h, "mtu")
    assert ["sudo", "-n", "nmcli", "con", "mod", "Wired connection 1", "802-3-ethernet.mtu", "9000"] in r.commands


def test_netplan_networkd_without_networkd_fails():
    h = facts(netplan="gb10_a_no_renderer", services="networkd_inactive_nm_active")
    r = result(h, "netplan-ignored")
    assert r.status == "fail" and "silently does nothing" in r.message


def test_netplan_handed_to_networkmanager_passes_saying_so():
    h = facts(netplan="ubuntu_nm_default_plus_cx7", services="networkd_inactive_nm_active")
    r = result(h, "netplan-ignored")
    assert r.status == "pass" and "NetworkManager" in r.message


def test_netplan_compares_file_with_ports():
    h = replay("broken")
    h.results["netplan"] = facts(netplan="ubuntu_nm_default_plus_cx7").results["netplan"]
    r = result(h, "netplan-ignored")
    assert r.status == "warn" and "MTU 1500, file asks 9000" in r.message


def test_roce_gid_per_device_in_data_and_launch_mismatch_warns():
    pair_a = replay("pair/spark-a")
    r = result(pair_a, "roce-gid")
    assert r.status == "pass" and [d["gid_index"] for d in r.data["devices"]] == [3, 3]
    # an image whose NCCL is not known (eugr's): the launch's index must be this node's
    r = result(pair_a, "roce-gid", ClusterFacts(gid_index=4, image="vllm-node"))
    assert r.status == "warn" and "NCCL_IB_GID_INDEX=4" in r.message and r.fix == "set NCCL_IB_GID_INDEX=3 on this node"
    # the default stack's NCCL (2.27.7+) picks the GID itself: any pinned index is the finding (issue 8, point 2)
    r = result(pair_a, "roce-gid", ClusterFacts(gid_index=3))
    assert r.status == "warn" and "pins NCCL_IB_GID_INDEX=3" in r.message and "unset" in r.fix


def test_roce_gid_devices_of_one_node_differ_warns():
    r = result(replay("broken"), "roce-gid", ClusterFacts(image="vllm-node"))
    assert r.status == "warn" and "rocep1s0f1 3, roceP2p1s0f1 4" in r.message
    # NCCL 2.21+ picks each device's own RoCEv2 GID: nothing to set (the GID drift of a DGX Spark pair,
    # tonyd2wild/DeepSeek-v4-Flash-Vision-Exp-DSpark-1M-NVFP4-KV-2x-DGX-Spark PR 40)
    r = result(replay("broken"), "roce-gid", ClusterFacts())
    assert r.status == "pass" and "picks it itself" in r.message


def test_qsfp_both_logical_ports_and_serial():
    h = replay("pair/spark-a")
    assert result(h, "qsfp-ports").status == "pass"
    single = replay("single")
    assert result(single, "qsfp-ports").status == "skip"


def test_thermals_idle_is_normal_and_hot_warns():
    h = facts(nvidia_smi="gb10_memory_na")
    h.results["nvidia-smi"].value.gpus[0].temperature_c = 42.0
    assert result(h, "thermals").status == "pass"
    h.results["nvidia-smi"].value.gpus[0].temperature_c = 81.0
    r = result(h, "thermals")
    assert r.status == "warn" and "GPU above 75 C" in r.message


def test_stack_versions_series_compare():
    h = replay("broken")
    r = result(h, "stack-versions")
    assert r.status == "warn" and "cuda 13.1 (reference 13.0)" in r.message
    assert r.fix and "580 driver" in r.fix          # says what to do for the component that is off


def test_pair_cluster_checks_pass():
    cluster = collect(["replay://pair/spark-a", "replay://pair/spark-b"], timeout=5)
    ev = evaluate(cluster)
    status = {c.name: c.status for c in ev.cluster}
    assert status == {"peer-reachable": "pass", "mtu-match": "pass", "stack-match": "pass", "clock-sync": "pass",
                      "roce-gid-match": "pass"}


def test_cluster_mismatches_found():
    a, b = replay("pair/spark-a"), replay("broken")
    ev = evaluate(ClusterFacts(hosts=[a, b]))
    status = {c.name: c.status for c in ev.cluster}
    assert status["mtu-match"] == "fail" and status["stack-match"] == "warn" and status["clock-sync"] == "warn"


def test_image_cuda_against_driver_cuda():
    from sparkpilot.probes import image_cuda_probe

    img = case("image-cuda", "cuda_13_0_2_image")
    h = facts(nvidia_smi_perf="header_driver_cuda")      # a driver whose CUDA is 10.0
    h.results["image-cuda"] = classify(image_cuda_probe("IMAGE"), 0, img["stdout"], "", 10.0)
    r = result(h, "stack-versions")
    assert r.status == "fail" and "needs CUDA 13.0.2" in r.message and r.data["image_cuda"] == "13.0.2"
    assert r.fix.startswith("use an image whose CUDA")
    pair = replay("pair/spark-a")                         # driver 580 -> CUDA 13.0
    pair.results["image-cuda"] = h.results["image-cuda"]
    assert "needs CUDA" not in result(pair, "stack-versions").message


def test_clock_skew_between_live_nodes_warns():
    from sparkpilot.checks.cluster import check_clock_sync
    from sparkpilot.probes.clock import Epoch
    from sparkpilot.facts import ProbeResult

    def node(name, remote, t0, t1):
        h = facts(chrony="synchronised")
        h.host = name
        h.results["clock"] = ProbeResult("clock", ["date", "+%s.%N"], value=Epoch(remote), local_start=t0, local_end=t1)
        return h

    a = node("a", 1000.02, 1000.0, 1000.04)     # on time (20 ms round trip)
    b = node("b", 1003.0, 1000.0, 1000.04)      # 3 s ahead
    r = check_clock_sync(ClusterFacts(hosts=[a, b]))
    assert r.status == "warn" and "differ by 2.98 s" in r.message
    r = check_clock_sync(ClusterFacts(hosts=[a, node("c", 1000.03, 1000.0, 1000.04)]))
    assert r.status == "pass"


def test_apply_runs_fix_commands_through_the_runner_only_with_apply(capsys, monkeypatch):
    from sparkpilot import transport
    from sparkpilot.cli.main import main
    from sparkpilot.transport.base import CommandResult, Runner

    ran = []
    answer = {"rc": 0}

    class Recorder(Runner):
        name = "user@spark"

        def run(self, argv, timeout=10.0):
            ran.append(list(argv))
            return CommandResult(answer["rc"], "", "" if answer["rc"] == 0 else "boom\n", 0.0)

    real = transport.connect
    monkeypatch.setattr(transport, "connect", lambda spec, **kw: Recorder() if spec == "user@spark" else real(spec, **kw))
    from sparkpilot.cli import doctor

    plan = doctor._fix_plan
    # the broken replay's fix plan, as if that host were the live user@spark
    monkeypatch.setattr(doctor, "_fix_plan", lambda ev: [dict(e, host="user@spark") for e in plan(ev)])
    assert main(["doctor", "--host", "replay://broken", "--fix"]) == 1
    assert ran == []                                   # --fix alone changes nothing
    main(["doctor", "--host", "replay://broken", "--fix", "--apply"])
    out = capsys.readouterr().out
    assert ["sudo", "-n", "sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"] in ran
    assert all(argv[:2] == ["sudo", "-n"] for argv in ran)
    assert "done: sudo -n sh -c" in out
    # a fix command that fails reaches the exit code, even when doctor had nothing else to fail on
    monkeypatch.setattr("sparkpilot.checks.failed", lambda report: False)
    assert main(["doctor", "--host", "replay://broken", "--fix", "--apply"]) == 0
    answer["rc"] = 1
    assert main(["doctor", "--host", "replay://broken", "--fix", "--apply"]) == 1
    assert "failed (exit 1: boom)" in capsys.readouterr().out


def test_ping_pattern_all_pairs_small_ring_plus_head_large():
    from sparkpilot.facts.pings import pairs

    assert len(pairs(2)) == 2 and len(pairs(4)) == 12
    p16 = pairs(16)
    assert len(p16) <= 16 + 2 * 15
    for n in range(16):   # every node sends and receives
        assert any(i == n for i, _ in p16) and any(j == n for _, j in p16)


def test_peer_reachable_fails_on_a_real_mtu_error():
    from sparkpilot.checks.cluster import check_peer_reachable
    from sparkpilot.facts import PingResult
    from sparkpilot.probes.network import parse_ping

    bad = case("ping", "df_9000_over_mtu_1500")
    p = parse_ping(bad["stdout"])
    a, b = replay("pair/spark-a"), replay("pair/spark-b")
    cluster = ClusterFacts(hosts=[a, b], pings=[
        PingResult(a.host, b.host, "192.168.100.11", 8972, p.ok, p.error or "no reply"),
        PingResult(b.host, a.host, "192.168.100.10", 8972, True, "reply")])
    r = check_peer_reachable(cluster)
    assert r.status == "fail" and "message too long, mtu=1500" in r.message and "192.168.100.11" in r.message
