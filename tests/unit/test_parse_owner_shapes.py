"""Launch shapes owners hand lint, each from the real public launch in tests/data/lint/real (source in
the file's first line): docker exec ... bash -c 'vllm serve ...' (NVIDIA's two-Spark playbook), a
run_cluster.sh script without the serve line, compose `command: serve MODEL` for an image whose
entrypoint is vLLM, and forks' `python -m vllm.entrypoints.<anything>.api_server`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sparkpilot.errors import UsageError
from sparkpilot.rules.finding import Edit
from sparkpilot.rules.lint import lint_launch
from sparkpilot.vllm import fix
from sparkpilot.vllm.parse import parse_argv, parse_text

REAL = Path(__file__).resolve().parent.parent / "data" / "lint" / "real"


def _parse(name: str):
    path = REAL / name
    return parse_text(path.read_text(), str(path))


def test_docker_exec_bash_c_is_read_inside_the_container_command():
    spec = _parse("playbook-two-sparks-exec-70b.sh")
    assert spec.model == "meta-llama/Llama-3.3-70B-Instruct"
    assert spec.options["tensor_parallel_size"] == "2" and spec.options["gpu_memory_utilization"] == "0.8"
    assert spec.executor == "ray" and spec.image is None   # exec runs in a container made elsewhere
    assert spec.nodes[0].docker_run is None                 # not a `docker run` line
    assert any("$VLLM_CONTAINER" in e for e in spec.env_files)


def test_docker_exec_after_run_cluster_takes_its_containers_environment():
    spec = _parse("playbook-two-sparks-exec-flow.sh")
    assert spec.env["RAY_memory_monitor_refresh_ms"] == "0"
    assert spec.image == "nvcr.io/nvidia/vllm:26.05-py3" and not spec.env_files
    assert {f.rule for f in lint_launch(spec)} >= {"nccl-gid-index"}
    assert "ray-memory-monitor" not in {f.rule for f in lint_launch(spec)}


def test_docker_exec_as_words():
    spec = parse_argv(["docker", "exec", "-it", "-e", "NCCL_IB_GID_INDEX=3", "node-1", "bash", "-c",
                       "vllm serve Qwen/Qwen3-32B -tp 2"])
    assert spec.model == "Qwen/Qwen3-32B" and spec.env["NCCL_IB_GID_INDEX"] == "3"
    assert spec.source_kind == "command"   # judged like a command: the container was made elsewhere


def test_docker_exec_without_vllm_is_still_bad_input():
    with pytest.raises(UsageError):
        parse_argv(["docker", "exec", "-it", "node-1", "ray", "status"])


def test_docker_exec_fix_keeps_the_exec_and_edits_inside():
    spec = _parse("playbook-two-sparks-exec-70b.sh")
    out = fix.apply(spec, [Edit("set_flag", "--kv-cache-dtype", "fp8")])
    assert "docker exec" in out and '-it "$VLLM_CONTAINER" /bin/bash -c' in out and "--kv-cache-dtype fp8" in out
    again = parse_text(out)
    assert again.options["kv_cache_dtype"] == "fp8" and again.model == spec.model


def test_cluster_script_without_serve_line_is_judged_on_its_environment():
    spec = _parse("playbook-two-sparks-cluster-head.sh")
    assert spec.model is None and spec.source_kind == "cluster" and spec.executor == "ray"
    assert spec.env["RAY_memory_monitor_refresh_ms"] == "0"
    assert spec.image == "nvcr.io/nvidia/vllm:26.05-py3"
    findings = lint_launch(spec)
    assert [f.rule for f in findings] == ["nccl-gid-index"]   # no vLLM flag rules on a script with no vLLM command
    # NGC 26.05's NCCL (2.21+) picks the RoCEv2 GID itself: info, nothing to pin (issue 8, point 2)
    assert findings[0].severity == "info" and not findings[0].edits
    findings = lint_launch(spec, stack="ngc")     # an NGC release whose NCCL is not in the table
    out = fix.apply(spec, [e for f in findings for e in f.edits])
    assert "--head ~/.cache/huggingface" in out   # ~ left for the shell


def test_a_script_with_nothing_of_vllm_is_still_bad_input():
    with pytest.raises(UsageError, match="no vLLM command"):
        parse_text("export MN_IF_NAME=enp1s0f1np1\necho hello\n")


def test_compose_command_serve_on_a_vllm_image():
    spec = _parse("compose-vllm-openai-serve-command.yml")
    assert spec.model == "/models/qwen25-14b" and spec.options["port"] == "8001"
    assert spec.source_kind == "compose"
    out = fix.apply(spec, [Edit("set_flag", "--kv-cache-dtype", "fp8")])
    cmd = yaml.safe_load(out)["services"]["vllm-llm"]["command"]
    assert cmd.startswith("serve /models/qwen25-14b") and "--kv-cache-dtype fp8" in cmd


def test_compose_entrypoint_vllm_fix_does_not_repeat_the_entrypoint():
    spec = _parse("amasu-compose-qwen38-nvfp4.yml")
    assert spec.model == "unsloth/Qwen3.8-27B-NVFP4"
    out = fix.apply(spec, [Edit("set_flag", "--kv-cache-dtype", "fp8")])
    svc = yaml.safe_load(out)["services"]["qwen38"]
    assert svc["entrypoint"] == ["vllm"] and svc["command"][:2] == ["serve", "unsloth/Qwen3.8-27B-NVFP4"]
    assert parse_text(out).options["kv_cache_dtype"] == "fp8"


def test_fork_entrypoint_module():
    spec = _parse("rocm-fork-sync-openai-api-server.sh")
    assert spec.model == "/data/Mixtral-8x22B-v0.1/" and spec.options["tensor_parallel_size"] == "2"
    assert parse_argv(["python3", "-m", "vllm.entrypoints.openai_fork.api_server", "--model", "m"]).model == "m"
    with pytest.raises(UsageError):
        parse_argv(["python", "-m", "vllm.entrypoints.sync_openai.api_serverx", "--model", "m"])
