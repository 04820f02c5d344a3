"""`sparkpilot diagnose` as a user runs it: files, stdin, several files, --container, exit codes."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sparkpilot.cli.main import main

REPO = Path(__file__).resolve().parents[2]
OWN = REPO / "tests" / "data" / "logs"
SHARED = REPO / "tests" / "data" / "shared" / "data" / "logs"   # a copy of ../shared/data/logs


def _log(name: str) -> Path:
    for folder in (SHARED, OWN):
        if (folder / name).exists():
            return folder / name
    raise AssertionError(f"{name} is neither in tests/data/shared/data/logs nor in tests/data/logs")


def test_ready_log_exit_0_with_phase_table(capsys):
    assert main(["diagnose", str(_log("018.log"))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("outcome: ready")
    assert "weight_loading" in out and "82.14 GiB in 82.68 s" in out and "214,475" in out


def test_failed_log_exit_1_with_cause_fix_and_prevention(capsys):
    assert main(["diagnose", str(_log("011.log"))]) == 1
    out = capsys.readouterr().out
    assert "failure: oom_at_startup (SPF001)" in out
    assert "Available KV cache memory: -2.14 GiB" in out
    assert "drop_caches" in out and "gpu-memory-utilization" in out


def test_incomplete_log_exit_1(capsys):
    assert main(["diagnose", str(OWN / "130.log")]) == 1
    assert "outcome: incomplete (stopped in weight_loading)" in capsys.readouterr().out


def test_json_shape_is_the_contract(capsys):
    assert main(["diagnose", "--format", "json", str(_log("011.log"))]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {"outcome", "failure", "phases", "figures"} <= set(data)
    assert {"class", "line", "message", "fix", "prevented_by"} <= set(data["failure"])
    for phase in data["phases"]:
        assert set(phase) == {"name", "start", "end", "seconds"}


def test_stdin(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(_log("004.log").read_bytes())))
    assert main(["diagnose", "-"]) == 1
    assert "cli_unrecognized_argument" in capsys.readouterr().out


def test_several_files_are_merged(tmp_path, capsys):
    raw = _log("018.log").read_text()
    head = tmp_path / "head.log"
    worker = tmp_path / "worker.log"
    head.write_text("\n".join(l for l in raw.splitlines() if l.startswith("(APIServer")))
    worker.write_text("\n".join(l for l in raw.splitlines() if not l.startswith("(APIServer")))
    assert main(["diagnose", "--format", "json", str(head), str(worker)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outcome"] == "ready" and len(data["sources"]) == 2


@pytest.mark.parametrize("argv, message", [
    (["diagnose", "/no/such/file.log"], "no such file"),
    (["diagnose", "/"], "is a directory"),
    (["diagnose", "--host", "user@spark-1"], "--host needs --container"),
    (["diagnose", "--container", "vllm", "x.log"], "not both"),
    (["diagnose", "--container=-rm"], "bad container name"),
])
def test_bad_input_is_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_empty_log_is_bad_input(tmp_path, capsys):
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert main(["diagnose", str(empty)]) == 2
    assert "empty" in capsys.readouterr().err


FAKE_DOCKER = r"""#!PYTHON
# `docker logs --timestamps NAME` replaying a real log: docker's RFC 3339 prefix on each line, its
# time taken from the line's own vLLM time (year 2025); `docker inspect` answers from FAKE_RUNNING.
import os, re, sys
logs = {"vllm": "LOG_OOM", "hung": "LOG_HUNG"}
args = sys.argv[1:]
name = args[-1]
if args[0] == "inspect":
    print(os.environ.get("FAKE_RUNNING", "true")); sys.exit(0)
if args[0] == "logs" and name in logs:
    stamp = "2025-01-01T00:00:00"
    lines = open(logs[name], encoding="utf-8").read().splitlines()
    if name == "hung":  # the start stops in CUDA graph capture
        lines = lines[: next(i for i, l in enumerate(lines) if "Warming up" in l) + 1]
    for line in lines:
        m = re.search(r" (\d\d)-(\d\d) (\d\d:\d\d:\d\d)", line)
        if m:
            stamp = f"2025-{m[1]}-{m[2]}T{m[3]}"
        print(f"{stamp}.000000000Z {line}")
    sys.exit(0)
print(f"Error response from daemon: No such container: {name}", file=sys.stderr); sys.exit(1)
"""


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    """`docker` on PATH that replays real logs for containers `vllm` and `hung`, Docker's error otherwise."""
    script = tmp_path / "docker"
    script.write_text(FAKE_DOCKER.replace("PYTHON", sys.executable).replace("LOG_OOM", str(_log("011.log")))
                      .replace("LOG_HUNG", str(_log("018.log"))))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return script


def test_container_logs_through_the_transport(fake_docker, capsys):
    assert main(["diagnose", "--container", "vllm"]) == 1
    assert "oom_at_startup" in capsys.readouterr().out


def test_running_container_stuck_in_graph_capture_is_a_hang(fake_docker, capsys):
    assert main(["diagnose", "--container", "hung"]) == 1
    out = capsys.readouterr().out
    assert "failure: cudagraph_hang" in out and "cudagraph_capture running for" in out
    assert "driver-version" in out


def test_stopped_container_is_incomplete_not_hung(fake_docker, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_RUNNING", "false")
    assert main(["diagnose", "--container", "hung"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("outcome: incomplete (stopped in cudagraph_capture)") and "cudagraph_hang" not in out


def test_unknown_container_exit_2(fake_docker, capsys):
    assert main(["diagnose", "--container", "nope"]) == 2
    assert "No such container: nope" in capsys.readouterr().err


def test_garbage_answer_flags_cutlass_fp4(capsys):
    answer = json.loads((OWN / "answers" / "garbage-002.json").read_text())["answer"]
    assert main(["diagnose", str(_log("018.log")), "--answer", answer]) == 1
    out = capsys.readouterr().out
    assert "cutlass_fp4_garbage" in out and "cutlass-fp4" in out


def test_console_script_end_to_end():
    out = subprocess.run([sys.executable, "-m", "sparkpilot", "diagnose", "--format", "json",
                          str(OWN / "102.log")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and json.loads(out.stdout)["failure"]["class"] == "port_in_use"


def test_a_file_that_is_not_a_log_is_bad_input(capsys):
    assert main(["diagnose", sys.executable]) == 2  # a binary
    assert "no vLLM log line" in capsys.readouterr().err
