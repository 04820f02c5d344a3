"""Cluster rules: tp-needs-cluster, ray-memory-monitor, nccl-gid-index (CONTRACTS.md "Executors")."""

from __future__ import annotations

from sparkpilot.interconnect import is_placeholder
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
    """CONTRACTS.md "The interconnect environment": by the stack's NCCL version (knowledge/stacks.yaml)."""
    if not ctx.multi_node:
        return []
    if ctx.spec.launcher == "sparkrun":
        return []   # sparkrun detects the RoCEv2 GID index on each host and sets it (LAUNCHERS)
    from sparkpilot.rules.stacks import nccl_auto_gid

    auto = nccl_auto_gid(ctx.stack)
    pinned = ctx.env("NCCL_IB_GID_INDEX")
    wrong = _wrong_on_hosts(ctx, pinned)
    if wrong:
        return [ctx.finding("nccl-gid-index", f"NCCL_IB_GID_INDEX={pinned}, but {wrong} (read from the host): NCCL's "
                            "queue pairs fail there (ibv_modify_qp) or the start hangs after the weights load; "
                            + ("leave it unset (the stack's NCCL picks the GID)" if auto else
                               "set it per node to that node's index"), severity="error",
                            location=ctx.where("NCCL_IB_GID_INDEX"))]
    nccl = ctx.stack.get("nccl")
    stack = ctx.stack["name"]
    where = ctx.where("NCCL_IB_GID_INDEX", "distributed_executor_backend", "nnodes", "tensor_parallel_size")
    if auto is True:
        if pinned and not is_placeholder(pinned) and pinned.strip() != "-1":
            return [ctx.finding("nccl-gid-index", f"NCCL_IB_GID_INDEX={pinned} pinned on {stack}, whose NCCL ({nccl}) picks "
                                "the RoCEv2 GID itself: a pinned index breaks when the GID table reorders (3 -> 4 seen "
                                "within half an hour: ibv_modify_qp errors or a silent hang); leave it unset and give "
                                "every QSFP port its IPv4 address", severity="warning", location=where)]
        if pinned:
            return []
        return [ctx.finding("nccl-gid-index", f"NCCL_IB_GID_INDEX unset on {stack} (NCCL {nccl}): NCCL picks the RoCEv2 "
                            "GID by address family, so every QSFP port NCCL uses needs its IPv4 address "
                            "(`sparkpilot net check`)", severity="info", location=where)]
    if pinned:
        return []
    if auto is None:
        return [ctx.finding("nccl-gid-index", f"multi-node launch on {stack}, whose NCCL version is not known here, "
                            "without NCCL_IB_GID_INDEX: NCCL 2.21+ picks the RoCEv2 GID itself, older NCCL needs the "
                            "index of each node; run `sparkpilot net check` on the nodes", severity="warning",
                            location=where)]
    sev = "warning" if ctx.spec.env_files or ctx.nodes_assumed else None
    return [ctx.finding("nccl-gid-index",
                        f"multi-node launch ({ctx.nodes} Sparks: {ctx.nodes_why}) on {stack} (NCCL {nccl}, older than "
                        "2.21) without NCCL_IB_GID_INDEX: NCCL may pick a GID that is not RoCEv2 + IPv4; find it per "
                        "node with `show_gids | grep <QSFP interface>` or `sparkpilot doctor --host USER@SPARK`"
                        f"{_env_note(ctx)}", severity=sev, location=where,
                        edits=[Edit("set_env", "NCCL_IB_GID_INDEX", "3")])]


def _wrong_on_hosts(ctx: LintContext, pinned: str | None) -> str:
    """'spark-b's RoCEv2 IPv4 GID index is 4' for the hosts whose index is not the pinned one."""
    if not pinned or is_placeholder(pinned) or not ctx.host_gids:
        return ""
    try:
        want = int(pinned)
    except ValueError:
        return ""
    if want < 0:
        return ""
    bad = [f"{host}'s RoCEv2 IPv4 GID index is {', '.join(map(str, sorted(idx)))}"
           for host, idx in ctx.host_gids.items() if idx and want not in idx]
    return "; ".join(bad)


def rdma_devices(ctx: LintContext) -> list[Finding]:
    """A multi-node `docker run` without the RDMA devices, unlimited locked memory or the host's IPC
    namespace: NCCL quietly falls back to sockets (CONTRACTS.md "Executors")."""
    args = ctx.spec.docker_args
    if not ctx.multi_node or args is None:
        return []
    opts = _docker_opts(args)
    missing = []
    if "--privileged" not in opts and not any(d.split(":")[0].startswith("/dev/infiniband") for d in opts.get("--device", [])):
        missing.append("--device /dev/infiniband (or --privileged)")
    if not any(u.replace(" ", "").startswith("memlock=-1") for u in opts.get("--ulimit", [])):
        missing.append("--ulimit memlock=-1")
    if "host" not in opts.get("--ipc", []) and not opts.get("--shm-size"):
        missing.append("--ipc=host (or a --shm-size that holds NCCL's buffers and Ray's object store)")
    if not missing:
        return []
    return [ctx.finding("rdma-devices", f"multi-node container without {', '.join(missing)}: NCCL cannot open the RoCE "
                        "devices and falls back to sockets, about half the decode speed", location=ctx.where("image"))]


def _docker_opts(args: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--") and "=" in a:
            k, v = a.split("=", 1)
            out.setdefault(k, []).append(v)
        elif a in ("--device", "--ulimit", "--ipc", "--shm-size") and i + 1 < len(args):
            out.setdefault(a, []).append(args[i + 1])
            i += 1
        else:
            out.setdefault(a, [])
        i += 1
    return out


def _int(v) -> int:
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return 0
