"""Launch parsers: every input kind lint accepts, parsed into a LaunchSpec."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkpilot.errors import UsageError
from sparkpilot.vllm import args as vargs
from sparkpilot.vllm.parse import parse_argv, parse_text

REAL = Path(__file__).resolve().parent.parent / "data" / "lint" / "real"


def real(name: str):
    path = REAL / name
    return parse_text(path.read_text(), str(path))


def test_vllm_serve_flag_forms():
    # flags as written in ../shared/data/commands/014.json and 026.json
    spec = parse_text("vllm serve hugging-quants/Meta-Llama-3.1-405B-Instruct-AWQ-INT4 --tensor-parallel-size=2 "
                      "--max_num_batched_tokens 256 -pp 1 --no-enable-prefix-caching --trust-remote-code "
                      "--gpu-memory-utilization 1.0")
    assert spec.model == "hugging-quants/Meta-Llama-3.1-405B-Instruct-AWQ-INT4"
    assert spec.options["tensor_parallel_size"] == "2"
    assert spec.options["max_num_batched_tokens"] == "256"
    assert spec.options["pipeline_parallel_size"] == "1"
    assert spec.options["enable_prefix_caching"] is False
    assert spec.options["trust_remote_code"] is True
    assert spec.options["gpu_memory_utilization"] == "1.0"
    assert [u.written for u in spec.flag_uses][:2] == ["--tensor-parallel-size", "--max_num_batched_tokens"]
    assert spec.source_kind == "command"


def test_short_forms_and_dotted_json_keys():
    spec = parse_argv(["vllm", "serve", "m", "-tp", "2", "-O3", "--compilation_config.max_cudagraph_capture_size", "2048"])
    assert spec.options["tensor_parallel_size"] == "2"
    assert spec.options["compilation_config"] == "3"
    assert spec.options["compilation_config.max_cudagraph_capture_size"] == "2048"
    assert spec.locations["tensor_parallel_size"] == "arg 4"


def test_python_module_entrypoint_and_model_flag():
    spec = parse_text("python3 -m vllm.entrypoints.openai.api_server --model Qwen/Qwen3-32B-FP8 --port 8000")
    assert spec.model == "Qwen/Qwen3-32B-FP8"
    assert spec.options["port"] == "8000"


def test_env_prefix_export_and_script_comments():
    spec = real("nvllm-serve-qwen35-agents.sh")
    assert spec.env["VLLM_NVFP4_GEMM_BACKEND"] == "cutlass"
    assert spec.model == "Sehyo/Qwen3.5-122B-A10B-NVFP4"
    assert spec.options["compilation_config"] == '{"cudagraph_mode":"PIECEWISE"}'
    assert spec.locations["VLLM_NVFP4_GEMM_BACKEND"].endswith(":14")
    assert spec.source_kind == "script"
    inline = parse_text("VLLM_ATTENTION_BACKEND=FLASHINFER vllm serve m")
    assert inline.env == {"VLLM_ATTENTION_BACKEND": "FLASHINFER"}


def test_docker_run_env_mounts_image():
    spec = real("nemotron-super-launch-server.sh")
    assert spec.source_kind == "docker"
    assert spec.image == "vllm/vllm-openai:v0.22.0"       # "${IMAGE:-...}" default
    assert spec.model == "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-NVFP4"
    assert spec.env["VLLM_NVFP4_GEMM_BACKEND"] == "marlin"
    assert spec.env["VLLM_USE_FLASHINFER_MOE_FP4"] == "0"
    assert spec.options["gpu_memory_utilization"] == "0.90"
    assert spec.options["mamba_ssm_cache_dtype"] == "float32"
    assert any(m.endswith(":/root/.cache/huggingface") for m in spec.mounts)
    env_file = parse_text("docker run --env-file ./vllm.env -e HF_TOKEN --gpus all nvcr.io/nvidia/vllm:26.04-py3 "
                          "vllm serve openai/gpt-oss-20b")
    assert env_file.env_files == ["./vllm.env"] and env_file.env["HF_TOKEN"] == "$HF_TOKEN"


def test_docker_bash_c_script():
    spec = parse_text("docker run --gpus all nvcr.io/nvidia/vllm:26.04-py3 bash -c "
                      "\"export RAY_memory_monitor_refresh_ms=0; vllm serve openai/gpt-oss-120b -tp 2\"")
    assert spec.image == "nvcr.io/nvidia/vllm:26.04-py3"
    assert spec.env["RAY_memory_monitor_refresh_ms"] == "0"
    assert spec.options["tensor_parallel_size"] == "2"


def test_launch_cluster_script():
    spec = real("eugr-issue29-launch-cluster.sh")
    assert spec.image == "vllm-node-mxfp4"
    assert spec.executor == "ray"
    assert spec.options["mxfp4_backend"] == "CUTLASS"


def test_compose_head_with_ray_start():
    spec = real("timothystewart6-compose-head.yaml")
    assert spec.source_kind == "compose"
    assert spec.model == "cyankiwi/MiniMax-M2.7-AWQ-4bit"
    assert spec.image == "ghcr.io/timothystewart6/vllm-gb10:latest"
    assert spec.env["RAY_memory_monitor_refresh_ms"] == "0" and spec.env["NCCL_IB_GID_INDEX"] == "3"
    assert spec.executor == "ray" and spec.env_files == [".env"]
    assert spec.locations["load_format"].endswith(":74")


def test_compose_exec_list_form():
    spec = real("compose-qwen3-32b-fp8-ngc2509.yaml")
    assert spec.model == "Qwen/Qwen3-32B-FP8"
    assert spec.options["gpu_memory_utilization"] == "0.90"
    assert spec.env["HF_TOKEN"] == "${HF_TOKEN}"


def test_compose_folded_command_with_comment_is_read_like_bash():
    spec = real("ecohash-compose-castor.yml")
    assert "tensor_parallel_size" not in spec.options     # bash drops everything after the `#`
    assert any("comment" in n and "--tensor-parallel-size" in n for n in spec.notes)


def test_native_multi_node_flags():
    spec = parse_text("vllm serve deepseek-ai/DeepSeek-V4-Flash-0731 --tensor-parallel-size 2 "
                      "--distributed-executor-backend mp --nnodes 2 --node-rank 0 --master-addr 192.168.100.10")
    assert spec.executor == "native" and spec.node_count == 2


def test_kubernetes_container():
    text = """apiVersion: apps/v1
kind: Deployment
metadata: {name: vllm}
spec:
  template:
    spec:
      containers:
      - name: vllm
        image: nvcr.io/nvidia/vllm:26.04-py3
        command: ["vllm", "serve"]
        args: ["Qwen/Qwen3-30B-A3B", "--gpu-memory-utilization", "0.85", "--moe-backend", "marlin"]
        env:
        - {name: VLLM_ATTENTION_BACKEND, value: TRITON_ATTN}
        - name: HF_TOKEN
          valueFrom: {secretKeyRef: {name: hf, key: token}}
"""
    spec = parse_text(text, "deploy.yaml")
    assert spec.source_kind == "k8s"
    assert spec.model == "Qwen/Qwen3-30B-A3B" and spec.options["moe_backend"] == "marlin"
    assert spec.env["VLLM_ATTENTION_BACKEND"] == "TRITON_ATTN"
    assert spec.env["HF_TOKEN"].startswith("<from")
    assert spec.locations["gpu_memory_utilization"] == "deploy.yaml:11"


def test_eugr_recipe_placeholders_env_nodes():
    spec = real("eugr-nemotron-3-super-nvfp4-solo.yaml")
    assert spec.source_kind == "recipe" and spec.image == "vllm-node"
    assert spec.options["gpu_memory_utilization"] == "0.85"      # {gpu_memory_utilization} default
    assert spec.options["max_model_len"] == "131072"
    assert spec.env == {"VLLM_ATTENTION_BACKEND": "FLASHINFER"}
    assert spec.node_count == 1
    cluster = real("4x-spark-cluster-nemotron-3-ultra-nvfp4.yaml")
    assert cluster.node_count == 4 and cluster.executor == "ray"


def test_sparkrun_recipe_model_placeholder():
    spec = real("sparkrun-qwen3.6-35b-a3b-fp8.yaml")
    assert spec.model == "Qwen/Qwen3.6-35B-A3B-FP8"
    assert spec.options["attention_backend"] == "flashinfer"
    assert spec.options["pipeline_parallel_size"] == "1"


@pytest.mark.parametrize("text", ["", "   \n", "ls -l\n", "foo: bar\n", "vllm serve 'unterminated\n",
                                  b"\x7fELF\x00\x00\x01", "services:\n  web:\n    image: nginx\n"])
def test_bad_input_is_a_usage_error(text):
    with pytest.raises(UsageError):
        parse_text(text)


def test_empty_argv():
    with pytest.raises(UsageError):
        parse_argv([])


def test_heuristic_without_flag_table(monkeypatch):
    monkeypatch.setattr(vargs, "table", lambda version=None: None)
    monkeypatch.setattr(vargs, "aliases", lambda version=None: dict(vargs.SHORT))
    spec = parse_argv(["vllm", "serve", "m", "--enforce-eager", "--kv-cache-dtype", "fp8", "--enable-prefix-caching",
                       "--max-num-seqs", "4", "-tp", "2"])
    assert spec.options == {"enforce_eager": True, "kv_cache_dtype": "fp8", "enable_prefix_caching": True,
                            "max_num_seqs": "4", "tensor_parallel_size": "2"}


def test_vllm_cluster_helpers():
    flow = real("playbook-two-sparks-flow.sh")
    assert flow.executor == "ray" and flow.env["RAY_memory_monitor_refresh_ms"] == "0"
    assert any("run_cluster.sh" in h for h in flow.multi_node_hints)
    lws = parse_text((REAL.parent / "formats" / "vllm-docs-lws.yaml").read_text(), "lws.yaml")
    assert lws.source_kind == "k8s" and lws.node_count == 2
    assert lws.options["pipeline_parallel_size"] == "2" and lws.image == "docker.io/vllm/vllm-openai:latest"


def test_vllm_config_file_and_config_option():
    fmt = REAL.parent / "formats"
    spec = parse_text((fmt / "vllm-docs-config.yaml").read_text(), str(fmt / "vllm-docs-config.yaml"))
    assert spec.source_kind == "vllm-config" and spec.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert spec.options["port"] == "6379" and spec.locations["port"].endswith(":6")
    run = parse_text((fmt / "serve-with-config.sh").read_text(), str(fmt / "serve-with-config.sh"))
    assert run.model == "/vllm-workspace/model/qwen3_0.6b_merged"
    assert run.options["gpu_memory_utilization"] == "0.85"          # the command line wins
    assert run.options["dtype"] == "float16" and run.locations["dtype"].endswith("vllm-issue-config.yaml:9")
    missing = parse_text("vllm serve --config /nonexistent/config.yaml")
    assert any("not found" in n for n in missing.notes)


def test_redirections_and_background_are_not_arguments():
    spec = parse_text("nohup vllm serve openai/gpt-oss-20b --port 8000 > /tmp/vllm.log 2>&1 &\n")
    assert spec.argv == ["vllm", "serve", "openai/gpt-oss-20b", "--port", "8000"]
    assert not spec.notes


def test_latin1_byte_in_a_comment_is_not_bad_input():
    spec = parse_text(b"# caf\xe9\nvllm serve openai/gpt-oss-20b\n")
    assert spec.model == "openai/gpt-oss-20b"


def test_non_vllm_recipe_is_bad_input():
    with pytest.raises(UsageError, match="runtime `sglang`"):
        parse_text("recipe_version: '2'\nmodel: x\nruntime: sglang\ncommand: |\n  sglang serve --model-path x\n")
