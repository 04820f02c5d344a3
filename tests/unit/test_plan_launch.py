"""The launch a plan emits: SM121 flags, per-node environment, executors, and lint over the catalog."""

from __future__ import annotations

import pytest

from sparkpilot import models
from sparkpilot.errors import UsageError
from sparkpilot.interconnect import NodeNet, RoceDevice, is_placeholder
from sparkpilot.models.info import ModelInfo
from sparkpilot.planner import PlanRequest, choose_parallel, plan
from sparkpilot.planner.launch import placeholders


def catalog(mid: str) -> ModelInfo:
    info = models.lookup(mid)
    if info is None:
        pytest.skip(f"{mid} not in the catalog")
    return info


def opt(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def test_single_spark_flags():
    p = plan(PlanRequest("openai/gpt-oss-120b", nodes=1), catalog("openai/gpt-oss-120b"))
    assert p.launch.executor == "single" and len(p.launch.nodes) == 1
    argv = p.launch.nodes[0].argv
    assert argv[:3] == ["vllm", "serve", "openai/gpt-oss-120b"]
    assert opt(argv, "--attention-backend") == "TRITON_ATTN"
    assert opt(argv, "--moe-backend") == "marlin"
    assert opt(argv, "--kv-cache-dtype") == "fp8"
    assert opt(argv, "--max-cudagraph-capture-size") == "2048"
    assert "--enforce-eager" not in argv and "--load-format" not in argv
    assert float(opt(argv, "--gpu-memory-utilization")) <= 0.90
    assert "RAY_memory_monitor_refresh_ms" not in p.launch.nodes[0].env


def test_quantised_checkpoints_run_through_marlin():
    base = catalog("Qwen/Qwen3-32B")
    gptq = ModelInfo(**{**base.__dict__, "quantization": "gptq", "quant_bits": 4, "quant_group_size": 128})
    argv = plan(PlanRequest("x/gptq", nodes=1), gptq).launch.nodes[0].argv
    assert opt(argv, "--quantization") == "gptq_marlin"
    awq = ModelInfo(**{**base.__dict__, "quantization": "awq", "quant_bits": 4})
    assert opt(plan(PlanRequest("x/awq", nodes=1), awq).launch.nodes[0].argv, "--quantization") == "awq_marlin"
    nvfp4 = ModelInfo(**{**catalog("Qwen/Qwen3-30B-A3B").__dict__, "quantization": "nvfp4", "weight_bytes": None})
    node = plan(PlanRequest("x/nvfp4", nodes=1), nvfp4).launch.nodes[0]
    assert node.env["VLLM_NVFP4_GEMM_BACKEND"] == "marlin"
    assert node.env["VLLM_USE_FLASHINFER_MOE_FP4"] == "0"
    assert opt(node.argv, "--moe-backend") == "marlin"


def test_two_sparks_ray_without_hosts_has_marked_placeholders():
    # eugr's image has Ray and does not publish its NCCL: Ray by default, and the GID index pinned per node
    p = plan(PlanRequest("Qwen/Qwen3-32B", nodes=2, stack="eugr"), catalog("Qwen/Qwen3-32B"))
    assert p.launch.executor == "ray" and [n.role for n in p.launch.nodes] == ["head", "worker"]
    for node in p.launch.nodes:
        assert node.env["RAY_memory_monitor_refresh_ms"] == "0"
        assert is_placeholder(node.env["NCCL_IB_GID_INDEX"])
    head, worker = p.launch.nodes
    assert "ray start --head" in head.argv[-1] and "--distributed-executor-backend ray" in head.argv[-1]
    assert "--tensor-parallel-size 2" in head.argv[-1]
    assert "ray start --block --address=<HEAD_IP>:6379" in worker.argv[-1]
    assert "spark-1: NCCL_IB_HCA" in placeholders(p.launch)


def test_interconnect_env_per_node_from_host_facts():
    nets = [NodeNet("a", [RoceDevice("rocep1s0f1", "enp1s0f1np1", "Up", 3, "192.168.100.10")]),
            NodeNet("b", [RoceDevice("roceP2p1s0f1", "enP2p1s0f1np1", "Up", 5, "192.168.100.11")])]
    p = plan(PlanRequest("Qwen/Qwen3-32B", node_names=["a", "b"], node_nets=nets, stack="eugr"),
             catalog("Qwen/Qwen3-32B"))
    a, b = p.launch.nodes
    assert (a.env["NCCL_IB_GID_INDEX"], b.env["NCCL_IB_GID_INDEX"]) == ("3", "5")
    assert (a.env["NCCL_IB_HCA"], b.env["NCCL_IB_HCA"]) == ("rocep1s0f1", "roceP2p1s0f1")
    assert "--address=192.168.100.10:6379" in b.argv[-1]
    assert placeholders(p.launch) == []


def test_native_executor_ranks():
    p = plan(PlanRequest("Qwen/Qwen3-32B", nodes=2, executor="native"), catalog("Qwen/Qwen3-32B"))
    head, worker = p.launch.nodes
    assert p.launch.executor == "native"
    assert opt(head.argv, "--nnodes") == "2" and opt(head.argv, "--node-rank") == "0"
    assert opt(worker.argv, "--node-rank") == "1" and "--headless" in worker.argv
    assert "RAY_memory_monitor_refresh_ms" not in head.env


def test_docker_run_passes_hf_token_by_name_only():
    node = plan(PlanRequest("Qwen/Qwen3-8B", nodes=1), catalog("Qwen/Qwen3-8B")).launch.nodes[0]
    run = node.docker_run
    assert run[:2] == ["docker", "run"] and "--gpus" in run and "nvcr.io/nvidia/vllm:26.04-py3" in run
    i = run.index("HF_TOKEN")
    assert run[i - 1] == "-e" and not any(a.startswith("HF_TOKEN=") for a in run)
    assert any(m.endswith(":/root/.cache/huggingface") for m in node.mounts)
    assert run[-len(node.argv):] == node.argv


def test_pipeline_parallel_when_heads_do_not_divide():
    info = catalog("Qwen/Qwen3-32B")  # 64 heads, 8 KV heads
    assert choose_parallel(info, 2) == (2, 1)
    assert choose_parallel(info, 3) == (1, 3)
    assert choose_parallel(info, 6) == (2, 3)
    p = plan(PlanRequest("Qwen/Qwen3-32B", nodes=3, executor="ray"), info)
    assert (p.tensor_parallel_size, p.pipeline_parallel_size) == (1, 3)
    assert opt(p.launch.nodes[0].argv[-1].split(), "--pipeline-parallel-size") == "3"


def test_every_catalog_plan_lints_clean():
    lint = pytest.importorskip("sparkpilot.rules.lint")
    problems = []
    for mid in models.catalog_ids():
        info = models.lookup(mid)
        for nodes, executor in ((1, None), (2, "ray"), (2, "native")):
            p = plan(PlanRequest(mid, nodes=nodes, executor=executor), info)
            for f in lint.lint_launch(p.launch, nodes=nodes, model_info=info):
                if f.severity in ("error", "warning"):
                    problems.append(f"{mid} x{nodes} {executor}: {f.severity} {f.rule}: {f.message}")
    assert problems == []


def test_local_folder_is_mounted_read_only(tmp_path):
    import json
    import struct

    cfg = json.loads((__import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "plan" / "configs"
                      / "qwen2-7b-instruct.json").read_text())["config"]
    folder = tmp_path / "qwen2-7b"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(cfg))
    # a safetensors file is an 8-byte header length, a JSON header, then the data (only the header is read)
    header = json.dumps({"model.embed_tokens.weight": {"dtype": "BF16", "shape": [152064, 3584],
                                                       "data_offsets": [0, 152064 * 3584 * 2]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    from sparkpilot.cli.main import main

    out = tmp_path / "plan.json"
    assert main(["plan", str(folder), "--offline", "--output", str(out), "--format", "json"]) in (0, 1)
    node = json.loads(out.read_text())["launch"]["nodes"][0]
    assert f"{folder}:/models/qwen2-7b:ro" in node["mounts"]
    assert node["argv"][2] == "/models/qwen2-7b"


@pytest.mark.parametrize("stack", ["ngc-26.04", "ngc-26.05"])
def test_plans_lint_clean_under_their_stack(stack, capsys):
    lint = pytest.importorskip("sparkpilot.rules.lint")
    from sparkpilot.planner.hosts import stack_facts

    image, version = stack_facts(stack)
    for mid in ("openai/gpt-oss-120b", "Qwen/Qwen3-Coder-Next", "Qwen/Qwen3-32B"):
        info = catalog(mid)
        for nodes in (1, 2):
            p = plan(PlanRequest(mid, nodes=nodes, image=image, vllm_version=version), info)
            bad = [f for f in lint.lint_launch(p.launch, nodes=nodes, stack=stack, model_info=info)
                   if f.severity in ("error", "warning")]
            assert bad == [], (mid, nodes, [(f.rule, f.message) for f in bad])


def test_mla_models_keep_bf16_kv_where_triton_mla_has_no_fp8():
    info = ModelInfo(id="mla/x", num_hidden_layers=4, hidden_size=2048, intermediate_size=8192, vocab_size=1000,
                     num_attention_heads=16, num_key_value_heads=16, head_dim=192, kv_lora_rank=512,
                     qk_rope_head_dim=64, dtype="bfloat16", weight_bytes=2 * 10**9)
    old = plan(PlanRequest("mla/x", nodes=1, vllm_version="0.19.0"), info)
    assert old.kv_cache_dtype == "auto" and opt(old.launch.nodes[0].argv, "--attention-backend") == "TRITON_MLA"
    assert "--kv-cache-dtype" not in old.launch.nodes[0].argv and any("MLA" in n for n in old.notes)
    assert plan(PlanRequest("mla/x", nodes=1, vllm_version="0.21.0"), info).kv_cache_dtype == "fp8"


@pytest.mark.parametrize("stack", [None, "ngc-26.04", "ngc-26.05"])
def test_mtp_speculation_plan_lints_clean(stack):
    lint = pytest.importorskip("sparkpilot.rules.lint")
    from sparkpilot.planner.hosts import stack_facts

    image, version = stack_facts(stack) if stack else (None, None)
    info = catalog("Qwen/Qwen3.6-35B-A3B")
    for nodes in (1, 2):
        p = plan(PlanRequest(info.id, nodes=nodes, speculative_tokens=3, image=image, vllm_version=version), info)
        argv = p.launch.nodes[0].argv
        text = argv[-1] if argv[0] == "bash" else " ".join(argv)
        assert '{"method":"mtp","num_speculative_tokens":3}' in text
        bad = [f for f in lint.lint_launch(p.launch, nodes=nodes, stack=stack, model_info=info)
               if f.severity in ("error", "warning")]
        assert bad == [], (nodes, [(f.rule, f.message) for f in bad])
    with pytest.raises(UsageError):
        plan(PlanRequest("Qwen/Qwen3-32B", nodes=1, speculative_tokens=2), catalog("Qwen/Qwen3-32B"))
