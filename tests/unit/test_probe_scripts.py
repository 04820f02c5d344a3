"""The probes that read host files run for real against a recorded tree under SPARKPILOT_HOST_ROOT
(how the simulated cluster gives each node its own /sys and /etc): the shell in the probe table
must print what the parsers read, from the same values as the recorded fixtures."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from sparkpilot.facts import classify
from sparkpilot.probes import PROBES, to_dict

DATA = Path(__file__).resolve().parent.parent / "data" / "probes"


def run_probe(pid: str, root: Path):
    env = dict(os.environ, SPARKPILOT_HOST_ROOT=str(root))
    p = subprocess.run(list(PROBES[pid].argv), capture_output=True, text=True, env=env, timeout=20)
    return classify(PROBES[pid], p.returncode, p.stdout, p.stderr, 20)


def test_gids_from_sysfs_tree_match_the_show_gids_fixture(tmp_path):
    case = json.loads((DATA / "gids" / "gb10_index_3.json").read_text())
    rows = [ln.split("\t") for ln in case["stdout"].splitlines()[1:]]
    for dev, port, index, gid, _, _ip, ver, ndev in rows:
        p = tmp_path / "sys/class/infiniband" / dev / "ports" / port
        for sub in ("gids", "gid_attrs/types", "gid_attrs/ndevs"):
            (p / sub).mkdir(parents=True, exist_ok=True)
        (p / "gids" / index).write_text(gid + "\n")
        (p / "gid_attrs/types" / index).write_text(("RoCE v2" if ver == "v2" else "IB/RoCE v1") + "\n")
        (p / "gid_attrs/ndevs" / index).write_text(ndev + "\n")
    # unused table entries are all-zero GIDs whose attributes cannot be read (EINVAL on a real host)
    for i in range(4, 8):
        (tmp_path / f"sys/class/infiniband/rocep1s0f1/ports/1/gids/{i}").write_text(
            "0000:0000:0000:0000:0000:0000:0000:0000\n")
    res = run_probe("gids", tmp_path)
    assert res.na is None, res.na
    expected = classify(PROBES["gids"], 0, case["stdout"], "", 10).value
    assert to_dict(res.value) == to_dict(expected)
    assert [g.index for g in res.value.rocev2_ipv4("rocep1s0f1")] == [3]


def test_gids_without_infiniband_is_unknown_not_an_empty_table(tmp_path):
    res = run_probe("gids", tmp_path)   # an empty table would make roce-gid fail with confidence
    assert res.value is None and "GID table is empty" in res.na.reason


def test_netplan_files_with_markers(tmp_path):
    case = json.loads((DATA / "netplan" / "ubuntu_nm_default_plus_cx7.json").read_text())
    chunks = case["stdout"].split("# file: ")[1:]
    for chunk in chunks:
        path, _, text = chunk.partition("\n")
        f = tmp_path / path.lstrip("/")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    res = run_probe("netplan", tmp_path)
    assert res.na is None
    assert [f.path for f in res.value.files] == ["/etc/netplan/01-network-manager-all.yaml", "/etc/netplan/40-cx7.yaml"]
    assert res.value.global_renderer == "NetworkManager"
    assert {i.name: i.mtu for i in res.value.interfaces} == {"enp1s0f1np1": 9000, "enP2p1s0f1np1": 9000}


def test_netplan_unreadable_file_is_marked():
    # what the probe prints when neither cat nor `sudo -n cat` can read a root-only (0600) file
    text = "# file: /etc/netplan/40-cx7.yaml\n# unreadable: /etc/netplan/40-cx7.yaml\n"
    res = classify(PROBES["netplan"], 0, text, "", 10)
    assert not res.value.files[0].readable and "passwordless sudo" in res.value.files[0].error


def test_thermal_zones_and_files_read_under_root(tmp_path):
    # tegrastats fixture values (cpu 45.812 C, gpu 46.843 C) as sysfs millidegrees
    for i, (kind, milli) in enumerate((("cpu-thermal", "45812"), ("gpu-thermal", "46843"))):
        z = tmp_path / f"sys/class/thermal/thermal_zone{i}"
        z.mkdir(parents=True)
        (z / "type").write_text(kind + "\n")
        (z / "temp").write_text(milli + "\n")
    res = run_probe("thermal", tmp_path)
    assert [(z.type, z.temp_c) for z in res.value.zones] == [("cpu-thermal", 45.812), ("gpu-thermal", 46.843)]
    meminfo = json.loads((DATA / "meminfo" / "gb10_reference_box.json").read_text())["stdout"]
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text(meminfo)
    assert run_probe("meminfo", tmp_path).value.mem_total_kb == 125483396


def test_missing_file_is_unknown_with_reason(tmp_path):
    res = run_probe("os-release", tmp_path)
    assert res.na is not None and "does not exist" in res.na.reason
