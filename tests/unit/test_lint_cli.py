"""`sparkpilot lint`, `rules` and `explain` as a user runs them: exit codes, formats, bad input."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from sparkpilot.cli.main import main

DATA = Path(__file__).resolve().parent.parent / "data" / "lint"
RECIPE = DATA / "real" / "eugr-nemotron-3-super-nvfp4-solo.yaml"


def run(argv, capsys, stdin: bytes | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_command_after_dashes_text(capsys):
    rc, out, err = run(["lint", "--", "vllm", "serve", "openai/gpt-oss-120b", "--enforce-eager",
                        "--gpu-memory-utilization", "0.95"], capsys)
    assert rc == 1 and not err
    lines = out.splitlines()
    assert any(l.startswith("arg 4: error: enforce-eager [SPL002]") for l in lines)
    assert any("gpu-memory-utilization [SPL001]" in l and "error" in l for l in lines)
    assert "stack ngc-26.04" in lines[-1]


def test_clean_launch_exits_0(capsys):
    rc, out, _ = run(["lint", "--", "vllm", "serve", "Qwen/Qwen2.5-Math-1.5B-Instruct", "--gpu-memory-utilization",
                      "0.85", "--kv-cache-dtype", "fp8", "--max-cudagraph-capture-size", "2048"], capsys)
    assert rc == 0 and out.startswith("no findings")


def test_file_json_shape(capsys):
    rc, out, _ = run(["lint", "-f", str(RECIPE), "--format", "json"], capsys)
    data = json.loads(out)
    assert rc == 1
    assert set(data) == {"findings", "summary"}
    f = data["findings"][0]
    assert set(f) == {"rule", "id", "severity", "message", "fix", "evidence", "location"}
    assert data["summary"]["error"] >= 3 and data["summary"]["stack"]["name"] == "eugr"


def test_sarif(capsys):
    _rc, out, _ = run(["lint", "-f", str(RECIPE), "--format", "sarif"], capsys)
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    run0 = sarif["runs"][0]
    assert len(run0["tool"]["driver"]["rules"]) == 17
    res = run0["results"][0]
    assert res["level"] == "error" and res["locations"][0]["physicalLocation"]["region"]["startLine"] > 0


def test_stdin_and_fix(capsys, monkeypatch):
    text = (DATA / "real" / "playbook-two-sparks-405b.sh").read_bytes()
    rc, out, err = run(["lint", "-f", "-", "--fix"], capsys, stdin=text, monkeypatch=monkeypatch)
    assert "--gpu-memory-utilization 0.85" in out and "RAY_memory_monitor_refresh_ms=0" in out
    # NGC 26.04's NCCL picks the GID itself: nccl-gid-index is info there, with nothing to pin (issue 8)
    assert "fixed:" in err and "NCCL_IB_GID_INDEX" not in out
    assert rc == 0


def test_select_ignore_nodes_stack_model_info(capsys):
    rc, out, _ = run(["lint", "--nodes", "1", "--select", "tp-needs-cluster,SPL010", "--model-info", "moe=true",
                      "--format", "json", "--", "vllm", "serve", "my/model", "-tp", "2"], capsys)
    data = json.loads(out)
    assert {f["rule"] for f in data["findings"]} == {"tp-needs-cluster", "moe-backend"} and rc == 1
    assert data["summary"]["launch"]["nodes_from"] == "--nodes"
    assert data["summary"]["model"]["sources"]["moe"] == "--model-info"
    rc, out, _ = run(["lint", "--stack", "eugr", "--ignore", "kv-cache-fp8,cudagraph-capture-size",
                      "--", "vllm", "serve", "Qwen/Qwen2.5-Math-1.5B-Instruct", "--load-format", "fastsafetensors"], capsys)
    assert rc == 0 and "info: fastsafetensors" in out and "kv-cache-fp8" not in out


@pytest.mark.parametrize("argv,stdin", [
    (["lint", "-f", "/nonexistent/launch.sh"], None),
    (["lint", "-f", "-"], b""),
    (["lint", "-f", "-"], b"\x7fELF\x02\x01\x01\x00\x00\x00"),
    (["lint", "-f", "-"], b"kind: Pod\nmetadata: {name: x}\n"),
    (["lint", "-f", "-"], b"echo hello\n"),
    (["lint", "--stack", "nope", "--", "vllm", "serve", "m"], None),
    (["lint", "--model-info", "moe=maybe", "--", "vllm", "serve", "m"], None),
    (["lint", "--select", "no-such-rule", "--", "vllm", "serve", "m"], None),
    (["explain", "no-such-thing"], None),
])
def test_bad_input_one_line_exit_2(argv, stdin, capsys, monkeypatch):
    rc, _out, err = run(argv, capsys, stdin=stdin, monkeypatch=monkeypatch if stdin is not None else None)
    assert rc == 2 and err.count("\n") == 1 and err.startswith("sparkpilot: error:") and "Traceback" not in err


def test_rules_table_and_json(capsys):
    rc, out, _ = run(["rules"], capsys)
    names = [l.split()[1] for l in out.splitlines()[1:18]]
    assert rc == 0 and names[0] == "gpu-memory-utilization" and "unknown-flag" in names
    rc, out, _ = run(["rules", "--format", "json"], capsys)
    assert [r["id"] for r in json.loads(out)["rules"]] == [f"SPL{i:03d}" for i in range(1, 18)]


def test_explain_by_name_and_id(capsys):
    rc, out, _ = run(["explain", "enforce-eager"], capsys)
    assert rc == 0 and "Why on a Spark" in out and "55%" in out and "Evidence" in out and "Example" in out
    _rc2, out2, _ = run(["explain", "SPL002"], capsys)
    assert out2 == out
    rc, out, _ = run(["explain", "fastsafetensors", "--format", "json"], capsys)
    entry = json.loads(out)
    assert entry["severity"] == "info" and entry["severity_by_stack"]["ngc-26.04"] == "error"


def test_secret_masked_in_fix_output(capsys, monkeypatch):
    launch = (b"docker run -e HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz0123 nvcr.io/nvidia/vllm:26.04-py3 "
              b"vllm serve m --enforce-eager\n")
    _rc, out, err = run(["lint", "-f", "-", "--fix"], capsys, stdin=launch, monkeypatch=monkeypatch)
    assert "hf_abcdefghij" not in out and "HF_TOKEN=***" in out and "masked" in err


def test_rules_stacks(capsys):
    rc, out, _ = run(["rules", "--stacks"], capsys)
    assert rc == 0 and "ngc-26.04" in out and "(default)" in out
    rc, out, _ = run(["rules", "--stacks", "--format", "json"], capsys)
    assert json.loads(out)["default"] == "ngc-26.04"


def test_explain_finds_doctor_checks_and_failure_classes(capsys):
    from sparkpilot.knowledge import load

    for kind, title in (("checks", "doctor check"), ("failures", "failure class")):
        entries = load(kind)
        if not entries:
            continue
        rc, out, _ = run(["explain", str(entries[0]["id"])], capsys)
        assert rc == 0 and title in out.splitlines()[0]
