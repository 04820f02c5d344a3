"""Each probe parser recognises its own format and gives NA with a reason for anything else: fed
every other probe's recorded output (tests/data/probes) and the host outputs owners paste
(tests/data/pasted, real, with sources), a parser must not make data up (a multi-line text as the
host name, every line as a held package, `ip -br link` as nmcli devices, an empty GID table that a
check then fails). Also: every fixture's argv is the probe's own, or the fixture says what ran."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkpilot.checks import run_host_checks
from sparkpilot.facts import HostFacts, classify
from sparkpilot.probes import PROBES, Probe, image_cuda_probe, image_ray_probe, ping_probe

DATA = Path(__file__).resolve().parent.parent / "data"
CASES = sorted((DATA / "probes").glob("*/*.json"))
PASTED = sorted((DATA / "pasted").glob("*.txt"))

ALL: dict[str, Probe] = {**PROBES, "image-cuda": image_cuda_probe("IMAGE"), "image-ray": image_ray_probe("IMAGE"),
                         "ping": ping_probe("127.0.0.1", 9000)}

# Pasted outputs of the probe's own tool (the same format, so its parser reads them).
SAME_TOOL = {"probe_nvidia_smi_csv": "nvidia-smi", "gb10_eugr_ibdev2netdev": "ibdev2netdev",
             "probe_ibdev2netdev_prompt": "ibdev2netdev", "probe_show_gids": "gids",
             "gb10_surfer_nvidia_smi": "gpu-processes", "gb10_surfer_nvidia_smi_vllm": "gpu-processes"}

# Outputs no parser can tell from its own: one word that is a valid answer of either command.
INDISTINGUISHABLE = {
    ("apt-holds", "services/networkd_inactive_nm_active"):
        "`systemctl is-active` prints 'inactive' and 'active', which are valid Debian package names",
}


def _foreign() -> list[tuple[str, str]]:
    out = [(f"{p.parent.name}/{p.stem}", json.loads(p.read_text())["stdout"]) for p in CASES]
    out += [(f"pasted/{p.stem}", p.read_text()) for p in PASTED]
    return [(name, text) for name, text in out if text.strip()]


FOREIGN = _foreign()


def _owner(name: str) -> str:
    kind, _, stem = name.partition("/")
    return SAME_TOOL.get(stem, "") if kind == "pasted" else kind


@pytest.mark.parametrize("pid", sorted(ALL))
def test_parser_gives_na_on_other_tools_output(pid):
    probe = ALL[pid]
    made_up = []
    for name, text in FOREIGN:
        if _owner(name) == pid or (pid, name) in INDISTINGUISHABLE:
            continue
        res = classify(probe, 0, text, "", 10.0)
        if res.na is None:
            made_up.append(f"{name}: {res.value!r}"[:160])
        else:
            assert res.na.reason.strip()
    assert not made_up, f"{pid} read another tool's output as its own: " + "; ".join(made_up)


@pytest.mark.parametrize("pid", sorted(ALL))
@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300))
def test_parser_on_random_text_is_na_or_data_never_a_crash(pid, text):
    res = classify(ALL[pid], 0, text, "", 10.0)
    assert (res.na is None) != (res.value is None) or (res.na is not None and res.value is None)


def test_every_fixture_ran_the_probes_argv_or_says_what_ran():
    for path in CASES:
        case = json.loads(path.read_text())
        probe = ALL[path.parent.name]
        if tuple(case["argv"]) == probe.argv:
            continue
        if path.parent.name == "ping" and case["argv"][:4] == ["ping", "-M", "do", "-s"] and "recorded_with" in case:
            continue
        assert case.get("recorded_with", "").strip(), \
            f"{path.parent.name}/{path.stem}: recorded from {case['argv']}, not the probe's argv; say so in recorded_with"


def test_recorded_with_only_where_the_argv_differs():
    for path in CASES:
        case = json.loads(path.read_text())
        if "recorded_with" in case:
            assert tuple(case["argv"]) != ALL[path.parent.name].argv, f"{path}: recorded_with but the argv is the probe's"


def _gids_on_a_host_without_the_table(tmp_path: Path):
    """The gids probe run for real on a tree without /sys/class/infiniband: the header and no row."""
    env = dict(os.environ, SPARKPILOT_HOST_ROOT=str(tmp_path))
    p = subprocess.run(list(PROBES["gids"].argv), capture_output=True, text=True, env=env, timeout=20)
    assert p.returncode == 0 and p.stdout.startswith("DEV\tPORT\tINDEX\tGID")
    return classify(PROBES["gids"], p.returncode, p.stdout, p.stderr, 20)


def test_empty_gid_table_makes_roce_gid_unknown_not_fail(tmp_path):
    h = HostFacts("spark")
    ib = json.loads((DATA / "probes" / "ibdev2netdev" / "gb10_a.json").read_text())
    h.results["ibdev2netdev"] = classify(PROBES["ibdev2netdev"], ib["rc"], ib["stdout"], ib.get("stderr", ""), 10.0)
    assert h.results["ibdev2netdev"].value.up                  # a cable is in: the GID check has work to do
    h.results["gids"] = _gids_on_a_host_without_the_table(tmp_path)
    roce = next(r for r in run_host_checks(h) if r.name == "roce-gid")
    assert roce.status == "unknown" and "GID table is empty" in roce.message


@pytest.mark.parametrize("pid,text,why", [
    ("hostname", "spark-1\nspark-2\n", "several lines"),
    ("apt-holds", "Listing... Done\nnvidia-driver-580\n", "not a package name"),
    ("nmcli", "lo               UNKNOWN        00:00:00:00:00:00 <LOOPBACK,UP,LOWER_UP>\n"
              "enP7s7           UP             4c:bb:47:2c:87:6c <BROADCAST,MULTICAST,UP,LOWER_UP>\n",
     "not an nmcli -t"),
])
def test_the_issues_examples(pid, text, why):
    res = classify(PROBES[pid], 0, text, "", 10.0)
    assert res.value is None and why in res.na.reason
