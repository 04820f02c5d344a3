"""Cluster rules: tp-needs-cluster, ray-memory-monitor, nccl-gid-index (CONTRACTS.md "Executors")."""

from __future__ import annotations

from sparkpilot.rules.context import LintContext
from sparkpilot.rules.finding import Edit, Finding

# What known launchers set by themselves in every node's container (read in their source).
LAUNCHERS = {
    "sparkrun": "sparkrun 0.4.2 sets RAY_memory_monitor_refresh_ms=0 (runtimes/vllm_ray.py get_cluster_env, "
                "orchestration/executors/_base.py) and NCCL_IB_GID_INDEX from the detected GID "
                "(orchestration/infiniband.py)",
    "eugr": "eugr/spark-vllm-docker launch-cluster.sh get_env_flags sets RAY_memory_monitor_refresh_ms=0 and "
            "NCCL_IB_HCA, not NCCL_IB_GID_INDEX (absent from the January 2026 version)",
}


def tp_needs_cluster(ctx: LintContext) -> list[Finding]:
    tp, pp = ctx.spec.tensor_parallel, ctx.spec.pipeline_parallel
    dp = _int(ctx.opt("data_parallel_size")) or 1
    world = max(1, tp) * max(1, pp) * max(1, dp)
    if world <= ctx.nodes:
        return []
    what = f"--tensor-parallel-size {tp}" + (f" x --pipeline-parallel-size {pp}" if pp > 1 else "") \
        + (f" x --data-parallel-size {dp}" if dp > 1 else "")
    return [ctx.finding("tp-needs-cluster",
                        f"{what} needs {world} Sparks (one GPU each) but this launch runs on {ctx.nodes} "
                        f"({ctx.nodes_why}); start a cluster or lower the parallel size",
                        location=ctx.where("tensor_parallel_size", "pipeline_parallel_size"))]


def _env_note(ctx: LintContext) -> str:
    if ctx.spec.env_files:
        return f" (unless it is in {', '.join(ctx.spec.env_files)}, which lint cannot read)"
    if ctx.nodes_assumed:
        return " (if the Ray containers already set it, e.g. with run_cluster.sh -e, this is fine)"
    return ""


def ray_memory_monitor(ctx: LintContext) -> list[Finding]:
    if not ctx.multi_node or ctx.executor != "ray":
        return []
    if str(ctx.env("RAY_memory_monitor_refresh_ms") or "").strip() == "0":
        return []
    if ctx.spec.launcher == "sparkrun" and ctx.env("RAY_memory_monitor_refresh_ms") is None:
        return []   # sparkrun puts RAY_memory_monitor_refresh_ms=0 in every Ray container (LAUNCHERS)
    if ctx.spec.launcher == "eugr" and ctx.env("RAY_memory_monitor_refresh_ms") is None:
        return [ctx.finding("ray-memory-monitor", "multi-node Ray launch through eugr's launch-cluster.sh: recent "
                            "versions put RAY_memory_monitor_refresh_ms=0 in every container, older ones (January "
                            "2026) did not; check yours or set it in the recipe's env", severity="info",
                            location=ctx.where("distributed_executor_backend"),
                            edits=[Edit("set_env", "RAY_memory_monitor_refresh_ms", "0")],
                            evidence=ctx.meta.get("ray-memory-monitor", {}).get("evidence", "") + "; " + LAUNCHERS["eugr"])]
    current = ctx.env("RAY_memory_monitor_refresh_ms")
    state = f"is {current}" if current is not None else "is not set"
    sev = "warning" if (ctx.spec.env_files and current is None) or ctx.nodes_assumed else None
    return [ctx.finding("ray-memory-monitor",
                        f"multi-node Ray launch ({ctx.nodes} Sparks: {ctx.nodes_why}) and RAY_memory_monitor_refresh_ms "
                        f"{state}: Ray will take page cache for memory pressure and kill vLLM{_env_note(ctx)}",
                        severity=sev, location=ctx.where("RAY_memory_monitor_refresh_ms", "distributed_executor_backend"),
                        edits=[Edit("set_env", "RAY_memory_monitor_refresh_ms", "0")])]


def nccl_gid_index(ctx: LintContext) -> list[Finding]:
    if not ctx.multi_node or ctx.env("NCCL_IB_GID_INDEX"):
        return []
    if ctx.spec.launcher == "sparkrun":
        return []   # sparkrun detects the RoCEv2 GID index on each host and sets it (LAUNCHERS)
    sev = "warning" if ctx.spec.env_files or ctx.nodes_assumed else None
    return [ctx.finding("nccl-gid-index",
                        f"multi-node launch ({ctx.nodes} Sparks: {ctx.nodes_why}) without NCCL_IB_GID_INDEX: NCCL may "
                        "pick a GID that is not RoCEv2 + IPv4; find it per node with `show_gids | grep <QSFP interface>` "
                        f"or `sparkpilot doctor --host USER@SPARK` (3 on the reference's pair){_env_note(ctx)}",
                        severity=sev, location=ctx.where("distributed_executor_backend", "nnodes", "tensor_parallel_size"),
                        edits=[Edit("set_env", "NCCL_IB_GID_INDEX", "3")])]


def _int(v) -> int:
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return 0
