"""The launch a plan emits: a per-node LaunchSpec (CONTRACTS.md "Per-node launch").

What the reference asks for on SM121: TRITON_ATTN attention, Marlin for MoE and for NVFP4
(`--moe-backend marlin`; dense NVFP4 GEMMs through VLLM_NVFP4_GEMM_BACKEND=marlin with FlashInfer's
FP4 MoE off), gptq_marlin / awq_marlin, fp8 KV cache, --max-cudagraph-capture-size 2048 and never
--enforce-eager. Several nodes: Ray with RAY_memory_monitor_refresh_ms=0 and the interconnect
environment per node, or vLLM's native multi-node mode.
"""

from __future__ import annotations

import json

import shlex
from dataclasses import dataclass, field

from sparkpilot.interconnect import NodeNet, interconnect_env, is_placeholder
from sparkpilot.models.info import ModelInfo
from sparkpilot.planner.memory import quant_kind
from sparkpilot.vllm.launchspec import LaunchSpec, NodeLaunch

DEFAULT_IMAGE = "nvcr.io/nvidia/vllm:26.04-py3"
HF_CACHE_MOUNT = "$HOME/.cache/huggingface:/root/.cache/huggingface"
RAY_PORT = 6379
MASTER_PORT = 29501
CONTAINER_NAME = "sparkpilot-vllm"


@dataclass
class LaunchRequest:
    model: str
    tp: int
    pp: int
    executor: str                      # single | ray | native
    max_model_len: int
    gpu_memory_utilization: float
    kv_cache_dtype: str
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    quantization: str | None = None
    image: str = DEFAULT_IMAGE
    node_names: list[str] = field(default_factory=list)
    node_nets: list[NodeNet | None] = field(default_factory=list)
    local_path: str | None = None      # a local model folder (mounted read-only)
    speculative_tokens: int = 0        # MTP draft tokens (the model's own MTP layers)


def quantization_flag(info: ModelInfo, requested: str | None) -> str | None:
    """The --quantization value: gptq/awq through Marlin, otherwise what the user asked."""
    q = (requested or info.quantization or "").lower()
    if q in ("gptq", "gptq_marlin"):
        return "gptq_marlin"
    if q in ("awq", "awq_marlin"):
        return "awq_marlin"
    return requested or None


def vllm_argv(info: ModelInfo, req: LaunchRequest, model_ref: str) -> list[str]:
    argv = ["vllm", "serve", model_ref, "--host", "0.0.0.0", "--port", "8000",
            "--tensor-parallel-size", str(req.tp)]
    if req.pp > 1:
        argv += ["--pipeline-parallel-size", str(req.pp)]
    argv += ["--max-model-len", str(req.max_model_len),
             "--gpu-memory-utilization", f"{req.gpu_memory_utilization:.2f}",
             "--attention-backend", "TRITON_MLA" if info.kv_lora_rank else "TRITON_ATTN"]
    if req.kv_cache_dtype and req.kv_cache_dtype != "auto":
        argv += ["--kv-cache-dtype", req.kv_cache_dtype]
    q = quantization_flag(info, req.quantization)
    if q:
        argv += ["--quantization", q]
    if info.is_moe:
        argv += ["--moe-backend", "marlin"]
    argv += ["--max-cudagraph-capture-size", "2048"]
    if req.max_num_seqs:
        argv += ["--max-num-seqs", str(req.max_num_seqs)]
    if req.max_num_batched_tokens:
        argv += ["--max-num-batched-tokens", str(req.max_num_batched_tokens)]
    if req.speculative_tokens:
        # the generic "mtp" method: vLLM resolves it to the model's own drafter (the 0.20.2 log of
        # bench case 134: method 'mtp' -> "Resolved architecture: Qwen3_5MoeMTP")
        spec = {"method": "mtp", "num_speculative_tokens": int(req.speculative_tokens)}
        argv += ["--speculative-config", json.dumps(spec, separators=(",", ":"))]
    if info.extra.get("trust_remote_code"):
        argv.append("--trust-remote-code")
    nodes = len(req.node_names)
    if req.executor == "ray":
        argv += ["--distributed-executor-backend", "ray"]
    elif req.executor == "native" and nodes > 1:
        argv += ["--distributed-executor-backend", "mp", "--nnodes", str(nodes)]
    return argv


def model_env(info: ModelInfo, quantization: str | None) -> dict[str, str]:
    env: dict[str, str] = {}
    if quant_kind(info, quantization) == "nvfp4":
        env["VLLM_NVFP4_GEMM_BACKEND"] = "marlin"
        env["VLLM_USE_FLASHINFER_MOE_FP4"] = "0"
    return env


def docker_run(image: str, env: dict[str, str], mounts: list[str], argv: list[str]) -> list[str]:
    cmd = ["docker", "run", "-d", "--name", CONTAINER_NAME, "--gpus", "all", "--ipc=host",
           "--network", "host", "--ulimit", "memlock=-1", "--ulimit", "stack=67108864"]
    for m in mounts:
        cmd += ["-v", m]
    cmd += ["-e", "HF_TOKEN"]  # passed by name: docker copies it from the caller's environment
    for k, v in env.items():
        cmd += ["-e", f"{k}={v}"]
    return cmd + [image, *argv]


def build(info: ModelInfo, req: LaunchRequest) -> LaunchSpec:
    """The per-node launch for this plan."""
    names = req.node_names or ["spark-1"]
    nets = list(req.node_nets) + [None] * (len(names) - len(req.node_nets))
    mounts = [HF_CACHE_MOUNT]
    model_ref = req.model
    if req.local_path:
        model_ref = "/models/" + (req.local_path.rstrip("/").rsplit("/", 1)[-1] or "model")
        mounts.append(f"{req.local_path}:{model_ref}:ro")
    base_argv = vllm_argv(info, req, model_ref)
    base_env = model_env(info, req.quantization)
    multi = len(names) > 1
    executor = req.executor if multi else "single"
    head_env = interconnect_env(nets[0]) if multi else {}
    spec = _spec(base_argv, {**base_env, **head_env})
    spec.model, spec.image, spec.mounts, spec.executor = req.model, req.image, list(mounts), executor
    spec.source_kind = "plan"
    head_ip = head_env.get("VLLM_HOST_IP", "")
    for rank, (name, net) in enumerate(zip(names, nets)):
        env = dict(base_env)
        if multi:
            env.update(interconnect_env(net))
        if executor == "ray":
            env["RAY_memory_monitor_refresh_ms"] = "0"
            if rank == 0:
                serve = shlex.join(base_argv)
                argv = ["bash", "-c", f"ray start --head --port={RAY_PORT} --node-ip-address=$VLLM_HOST_IP "
                        f"--disable-usage-stats && exec {serve}"]
            else:
                argv = ["bash", "-c", f"exec ray start --block --address={_addr(head_ip)}:{RAY_PORT} "
                        "--node-ip-address=$VLLM_HOST_IP --disable-usage-stats"]
        elif executor == "native":
            argv = base_argv + ["--node-rank", str(rank), "--master-addr", _addr(head_ip),
                                "--master-port", str(MASTER_PORT)]
            if rank > 0:
                argv.append("--headless")
        else:
            argv = list(base_argv)
        spec.nodes.append(NodeLaunch(name=name, role="head" if rank == 0 else "worker", argv=argv,
                                     env=env, mounts=list(mounts),
                                     docker_run=docker_run(req.image, env, mounts, argv)))
    spec.argv = list(base_argv) if executor != "native" else spec.nodes[0].argv
    spec.env = dict(spec.nodes[0].env)
    return spec


def _spec(argv: list[str], env: dict[str, str]) -> LaunchSpec:
    """The vLLM command as lint sees it (options by canonical name), when the parser is there."""
    try:
        from sparkpilot.vllm.parse import parse_argv
    except ImportError:  # pragma: no cover - lint's parser ships with the package
        return LaunchSpec(argv=list(argv), env=dict(env))
    return parse_argv(argv, env)


def _addr(value: str) -> str:
    return "<HEAD_IP>" if not value or is_placeholder(value) else value


def placeholders(spec: LaunchSpec) -> list[str]:
    """`node: VAR` for every environment value the plan could not know."""
    out = []
    for node in spec.nodes:
        out += [f"{node.name}: {k}" for k, v in node.env.items() if is_placeholder(v)]
    return out
