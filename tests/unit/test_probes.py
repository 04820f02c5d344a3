"""One test per recorded probe output: tests/data/probes/<probe-id>/<case>.json.

Each file holds a real output (or one rebuilt from real published values, marked `reconstructed`
with its sources) and what the parser must read from it (`expected`, compared key by key), or the
reason the probe must report as unknown (`expected_unknown`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkpilot.facts import classify
from sparkpilot.probes import PROBES, Probe, image_cuda_probe, image_ray_probe, ping_probe, to_dict

DATA = Path(__file__).resolve().parent.parent / "data" / "probes"
CASES = sorted(DATA.glob("*/*.json"))


def probe_for(pid: str) -> Probe:
    if pid == "image-cuda":
        return image_cuda_probe("IMAGE")
    if pid == "image-ray":
        return image_ray_probe("IMAGE")
    return ping_probe("127.0.0.1", 9000) if pid == "ping" else PROBES[pid]


def subset(expected, actual, where="") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a mapping, got {actual!r}"
        for k, v in expected.items():
            assert k in actual, f"{where}.{k} missing in {sorted(actual)}"
            subset(v, actual[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) >= len(expected), f"{where}: {actual!r}"
        for i, v in enumerate(expected):
            subset(v, actual[i], f"{where}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected), f"{where}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def test_every_probe_has_a_fixture():
    have = {p.parent.name for p in CASES}
    missing = set(PROBES) - have - {"hostname", "thermal"}
    assert not missing, f"probes without a recorded output: {sorted(missing)}"


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_probe_fixture(path: Path):
    case = json.loads(path.read_text(encoding="utf-8"))
    assert case.get("source"), "every fixture names its source"
    probe = probe_for(path.parent.name)
    res = classify(probe, case["rc"], case["stdout"], case.get("stderr", ""), 10.0)
    if "expected_unknown" in case:
        assert res.na is not None, f"expected unknown, parsed {res.value!r}"
        assert case["expected_unknown"] in res.na.reason
        return
    assert res.na is None, res.na
    if case["expected"] is None:   # shape-only fixture
        value = to_dict(res.value)
        assert value and all(v is not None for v in value.values())
        if path.parent.name == "ip-addr":
            assert res.value.links and all(ln.name and ln.mtu for ln in res.value.links)
        return
    if path.parent.name == "ibdev2netdev" and "up" in case["expected"]:
        assert sorted(m.ibdev for m in res.value.up) == case["expected"]["up"]
        return
    subset(case["expected"], to_dict(res.value), path.parent.name)
