"""`sparkpilot diagnose` on host-tool output owners paste (tests/data/pasted: real outputs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sparkpilot.diagnosis.pasted import recognise

DATA = Path(__file__).resolve().parent.parent / "data" / "pasted"
CASES = sorted(p.stem for p in DATA.glob("*.json"))
ORDER = ["ok", "info", "warn", "fail"]


def test_every_format_of_the_issue_has_a_real_paste():
    whats = {json.loads((DATA / f"{c}.json").read_text())["expected"]["what"] for c in CASES}
    for need in ("nvidia-smi (table)", "nvidia-smi --query-gpu CSV", "ip -br link", "ip addr / ip link",
                 "ibv_devinfo", "show_gids", "ibdev2netdev", "perftest ib_write_bw", "perftest ib_write_lat",
                 "nccl-tests all_gather_perf", "ethtool", "ethtool (FEC)", "dmesg (mlx5 link lines)",
                 "NCCL_DEBUG=INFO init lines", "free", "nmcli connection show"):
        assert need in whats, need


@pytest.mark.parametrize("case", CASES)
def test_paste_recognised_and_judged(case):
    meta = json.loads((DATA / f"{case}.json").read_text())
    assert meta["source"], case
    p = recognise((DATA / f"{case}.txt").read_text())
    assert p is not None, case
    exp = meta["expected"]
    assert p.what == exp["what"]
    levels = [f["level"] for f in p.findings]
    assert max(levels, key=ORDER.index) == exp["worst"], p.findings
    assert set(exp["checks"]) <= {f["check"] for f in p.findings}


def test_judgements_follow_the_fabric_thresholds():
    p = recognise((DATA / "spark_ethtool_speed_100g.txt").read_text())
    assert p.findings[0]["level"] == "fail" and "200000" in p.findings[0]["message"]
    p = recognise((DATA / "gb10_surfer_ip_link.txt").read_text())
    assert any(f["check"] == "mtu" and "MTU 1500" in f["message"] for f in p.findings)
    p = recognise((DATA / "gb10_9f38_ib_write_bw_degraded.txt").read_text())
    assert p.facts["bw_average_gbps"] < 14 and p.findings[0]["check"] == "rdma-hotplug-degraded"
    p = recognise((DATA / "probe_show_gids.txt").read_text())
    assert p.facts["roce_v2_ipv4_index"] == {"rocep1s0f1": 3}
    lowered = (DATA / "gb10_fb97_nccl_tests_all_gather_ok.txt").read_text().replace("22.14", "3.10").replace(
        "22.46", "3.05")
    p = recognise(lowered)
    assert any(f["level"] == "fail" and f["check"] == "nccl-single-port" for f in p.findings)
    p = recognise((DATA / "gb10_surfer_nvidia_smi.txt").read_text().replace("580.126.09", "590.44.01"))
    assert any(f["level"] == "fail" and f["check"] == "driver-version" for f in p.findings)


def test_a_vllm_log_is_not_taken_for_a_paste():
    logs = Path(__file__).resolve().parent.parent / "data" / "logs"
    for log in sorted(logs.glob("1*.log"))[:20]:
        assert recognise(log.read_text(errors="replace")) is None or "NCCL" in log.read_text(errors="replace"), log


def test_cli_says_what_it_is_and_exits_by_the_findings():
    def run(name):
        return subprocess.run([sys.executable, "-m", "sparkpilot", "diagnose", str(DATA / name)],
                              capture_output=True, text=True, timeout=60, check=False)
    bad = run("spark_ethtool_speed_100g.txt")
    assert bad.returncode == 1 and "input: ethtool output" in bad.stdout and "FAIL  link-speed" in bad.stdout
    good = run("gb10_eugr_ib_write_bw.txt")
    assert good.returncode == 0 and "111.71 Gb/s" in good.stdout
    js = subprocess.run([sys.executable, "-m", "sparkpilot", "diagnose", "--format", "json", "-"],
                        input=(DATA / "gb10_surfer_free_h.txt").read_text(), capture_output=True, text=True,
                        timeout=60, check=False)
    data = json.loads(js.stdout)
    assert data["pasted"]["tool"] == "free" and data["pasted"]["findings"][0]["check"] == "page-cache"


def test_a_failing_nccl_log_is_read_as_a_log_not_as_init_lines():
    unseen = DATA.parent / "logs_unseen"
    for name in ("209.log", "210.log", "211.log", "212.log"):
        out = subprocess.run([sys.executable, "-m", "sparkpilot", "diagnose", str(unseen / name)],
                             capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 1 and "failure: nccl_" in out.stdout, (name, out.stdout)
