"""Reading logs as people quote them: wrapped messages, cut tracebacks, interleaved nodes, and a
fix that follows the evidence (issue 16). Data: real public lines (tests/data/logs*, their sources
in the JSON beside each log)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkpilot.diagnosis import diagnose
from sparkpilot.diagnosis.signatures import CARET_RE, is_frame_line

DATA = Path(__file__).resolve().parent.parent / "data"
LOGS = sorted((DATA / "logs").glob("*.log")) + sorted((DATA / "logs_unseen").glob("*.log"))


def _log(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("path", LOGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_evidence_is_never_a_caret_or_frame_line(path):
    d = diagnose(path.read_text(encoding="utf-8", errors="replace"))
    if d.failure is None or not d.failure.line:
        return
    shown = d.failure.line.split("] ")[-1].strip()
    assert not CARET_RE.match(shown), d.failure.line
    assert not is_frame_line(shown) or d.failure.cls != "unrecognised", d.failure.line


def test_a_message_wrapped_over_lines_is_read_whole():
    # vllm-project/recipes#12: the KV-cache line, broken into three by whoever quoted it
    whole = ("ValueError: To serve at least one request with the models's max seq len (262144), (62.00 GiB KV "
             "cache is needed, which is larger than the available KV cache memory (48.66 GiB).")
    wrapped = "ValueError: To serve at least one request\nwith the models's max seq len (262144), (62.00 GiB KV\n" \
              "cache is needed, which is larger than the available KV cache memory (48.66 GiB)."
    assert diagnose(whole).failure.cls == "max_model_len_too_long"
    d = diagnose(wrapped)
    assert d.failure.cls == "max_model_len_too_long"
    d = diagnose(_log("logs_unseen/214.log"))  # a docker error the poster broke into four lines
    assert d.failure.cls == "gpu_driver_error"
    assert "different versions" in d.failure.message and "Reboot" in d.failure.fix


def test_a_traceback_cut_at_a_caret_line_shows_the_error_not_the_caret():
    d = diagnose(_log("logs_unseen/202.log"))
    assert d.failure.cls == "no_kernel_image"
    assert "no kernel image" in d.failure.line
    cut = "\n".join(_log("logs/112.log").splitlines()[:40])
    d = diagnose(cut + "\n    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n")
    if d.failure is not None and d.failure.line:
        assert not CARET_RE.match(d.failure.line.split("] ")[-1].strip())


def test_interleaved_nodes_and_a_ring_failure_get_the_connection_fix_not_the_gid_fix():
    d = diagnose(_log("logs_unseen/209.log"))  # two hosts' NCCL lines interleaved, cut mid-line
    assert d.failure.cls == "nccl_connection_failed"
    assert "Got completion from peer" in d.failure.line
    assert "GID" not in d.failure.fix and "ring" in d.failure.fix
    gid = diagnose("[155] crow-ib-new-nccl-256-info-19:5330:7970 [3] misc/ibvwrap.cc:284 NCCL WARN Call to "
                   "ibv_modify_qp failed with error Invalid argument")  # NVIDIA/nccl#302
    assert gid.failure.cls == "nccl_error" and "NCCL_IB_GID_INDEX" in gid.failure.fix


def test_a_cascade_yields_to_the_unknown_exception_before_it():
    d = diagnose(_log("logs_unseen/222.log"))
    assert d.failure.cls == "unrecognised"
    assert "AssertionError" in d.failure.line


def test_marlin_on_an_unquantized_moe_layer_gets_the_draft_fix():
    d = diagnose(_log("logs_unseen/201.log"))
    assert d.failure.cls == "moe_backend_unsupported"
    assert "speculative-config" in d.failure.fix


def test_issue16_signatures_name_the_code_that_raises_them():
    from sparkpilot import knowledge

    new = {"no_kernel_image", "rank_never_joined", "ray_worker_error", "engine_dead_serving",
           "nccl_connection_failed", "gpu_driver_error", "moe_backend_unsupported"}
    entries = {e["name"]: e for e in knowledge.load("failures")}
    for name in new:
        code = entries[name].get("source_code")
        assert code, name
        for item in code:
            assert item["file"] and item["repo"] and item["version"] and item["text"], (name, item)


def test_lines_after_a_whole_message_are_not_joined_into_its_evidence():
    d = diagnose(_log("logs_unseen/209.log"))
    assert d.failure.evidence == [d.failure.line]
