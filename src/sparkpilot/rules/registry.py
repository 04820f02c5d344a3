"""The one table of lint rules: id -> (name, check function). Texts live in knowledge/rules.yaml."""

from __future__ import annotations

from typing import Callable

from sparkpilot.rules import cluster, datacenter, kernels, memory, unknown_flag

RULES: list[tuple[str, str, Callable]] = [
    ("SPL001", "gpu-memory-utilization", memory.gpu_memory_utilization),
    ("SPL002", "enforce-eager", memory.enforce_eager),
    ("SPL003", "flashinfer-attention", kernels.flashinfer_attention),
    ("SPL004", "cutlass-fp4", kernels.cutlass_fp4),
    ("SPL005", "mxfp4-non-gpt-oss", kernels.mxfp4_non_gpt_oss),
    ("SPL006", "fastsafetensors", kernels.fastsafetensors),
    ("SPL007", "tp-needs-cluster", cluster.tp_needs_cluster),
    ("SPL008", "ray-memory-monitor", cluster.ray_memory_monitor),
    ("SPL009", "nccl-gid-index", cluster.nccl_gid_index),
    ("SPL010", "moe-backend", kernels.moe_backend),
    ("SPL011", "gptq-marlin", kernels.gptq_marlin),
    ("SPL012", "kv-cache-fp8", memory.kv_cache_fp8),
    ("SPL013", "cudagraph-capture-size", memory.cudagraph_capture_size),
    ("SPL014", "datacenter-blackwell", datacenter.datacenter_blackwell),
    ("SPL015", "unknown-flag", unknown_flag.unknown_flag),
    ("SPL016", "rdma-devices", cluster.rdma_devices),
    ("SPL017", "max-model-len", memory.max_model_len),
]

NAMES = {name for _, name, _ in RULES}

# What a launch without a vLLM command (a script that only starts vLLM's Ray containers with
# run_cluster.sh -e VAR=...) is judged on: the rules that read the containers' environment.
CLUSTER_ENV_RULES = frozenset({"flashinfer-attention", "ray-memory-monitor", "nccl-gid-index", "datacenter-blackwell"})


def by_name_or_id(key: str) -> tuple[str, str, Callable] | None:
    k = key.strip().lower()
    for row in RULES:
        if k in (row[0].lower(), row[1]):
            return row
    return None
