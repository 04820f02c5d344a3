"""knowledge/fabric.yaml: the fabric thresholds, read once (net check and diagnose share them)."""

import pytest

from sparkpilot import knowledge
from sparkpilot.knowledge import fabric


def test_every_threshold_has_id_source_and_fix():
    entries = knowledge.load("fabric")
    assert len(entries) >= 9
    ids = [e["id"] for e in entries]
    assert len(set(ids)) == len(ids) and all(i.startswith("SPN") for i in ids)
    for e in entries:
        assert e["evidence"] and e["fix"] and e["summary"] and e["unit"], e["id"]


def test_figures_named_by_issue():
    assert fabric.limit("link-speed") == 200000
    assert fabric.limit("link-speed", "switch_port_100g") == 100000
    assert fabric.limit("mtu") == 9000
    assert fabric.healthy("rdma-write-bw-port") == (90, 112)
    assert fabric.healthy("rdma-write-bw-both") == (185, 190)
    assert fabric.limit("nccl-allgather-busbw") == 21.9
    assert fabric.limit("SPN007") == 10
    assert fabric.limit("nccl-test-buffer", "max") == 4 * 1024**3


def test_unknown_name_is_an_error_not_a_silent_pass():
    with pytest.raises(KeyError):
        fabric.limit("no-such-threshold")
    with pytest.raises(KeyError):
        fabric.limit("mtu", "max")


def test_explain_finds_a_threshold():
    kind, entry = knowledge.find("nccl-allgather-busbw")
    assert kind == "fabric" and entry["id"] == "SPN006"
