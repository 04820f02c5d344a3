"""Checks across the nodes: reachability over the interconnect, equal MTU, stack, clocks, GID index."""

from __future__ import annotations

from typing import Any

from sparkpilot.checks import CheckResult

MAX_OFFSET_S = 0.1   # chrony's own offset from its reference
MAX_SKEW_S = 0.5     # measured between nodes over ssh, beyond the measurement's uncertainty


def _multi(cluster: Any) -> CheckResult | None:
    if len(cluster.hosts) < 2:
        return CheckResult("skip", "one node: nothing to compare")
    if len(cluster.reachable) < 2:
        return CheckResult("unknown", "fewer than two nodes answered")
    return None


def check_peer_reachable(cluster: Any) -> CheckResult:
    early = _multi(cluster)
    if early:
        return early
    if not cluster.pings:
        return CheckResult("unknown", "no interconnect addresses known (give `interconnect:` in the inventory, "
                           "or bring the QSFP ports up with addresses)")
    rows = [{"from": p.source, "to": p.target, "address": p.address, "size": p.size, "ok": p.ok, "detail": p.detail}
            for p in cluster.pings]
    bad = [p for p in cluster.pings if p.ok is False]
    unknown = [p for p in cluster.pings if p.ok is None]
    if bad:
        by_target: dict[str, list] = {}
        for p in bad:
            by_target.setdefault(f"{p.address} ({p.target})", []).append(p)
        parts = []
        for target, ps in list(by_target.items())[:3]:
            srcs = sorted({p.source for p in ps})
            parts.append(f"to {target} from {srcs[0]}" + (f" and {len(srcs) - 1} more" if len(srcs) > 1 else "")
                         + f": {ps[0].detail}")
        more = f"; {len(by_target) - 3} more addresses" if len(by_target) > 3 else ""
        return CheckResult("fail", f"{len(bad)} of {len(rows)} don't-fragment pings at {bad[0].size} bytes failed: "
                           + "; ".join(parts) + more,
                           "check the cable, the addresses and MTU 9000 on both ends", {"pings": rows})
    if unknown:
        p = unknown[0]
        return CheckResult("unknown", f"{len(unknown)} of {len(rows)} pings could not run, e.g. {p.source}: {p.detail}",
                           data={"pings": rows})
    return CheckResult("pass", f"{len(rows)} don't-fragment pings at full MTU answered", data={"pings": rows})


def check_mtu_match(cluster: Any) -> CheckResult:
    from sparkpilot.checks.net import qsfp_links

    early = _multi(cluster)
    if early:
        return early
    mtus = {}
    for h in cluster.reachable:
        ports = qsfp_links(h)
        if isinstance(ports, list):
            up = [p.mtu for p in ports if p.carrier and p.mtu]
            if up:
                mtus[h.host] = min(up)
    if len(mtus) < 2:
        return CheckResult("unknown", "QSFP port MTU known on fewer than two nodes", data={"mtu": mtus})
    if len(set(mtus.values())) > 1:
        return CheckResult("fail", "QSFP MTU differs: " + _spread(mtus),
                           "set MTU 9000 on every QSFP port of every node (see the mtu check)", {"mtu": mtus})
    return CheckResult("pass", f"QSFP MTU {next(iter(mtus.values()))} on all {len(mtus)} nodes", data={"mtu": mtus})


def check_stack_match(cluster: Any) -> CheckResult:
    from sparkpilot.checks.host import stack

    early = _multi(cluster)
    if early:
        return early
    keys = ("driver", "cuda", "docker", "nvidia-container-toolkit", "kernel", "image_cuda")
    table = {h.host: {k: v for k, v in stack(h).items() if k in keys and isinstance(v, str)} for h in cluster.reachable}
    diffs = []
    for k in keys:
        vals = {h: t[k] for h, t in table.items() if k in t}
        if len(set(vals.values())) > 1:
            diffs.append(f"{k}: " + _spread(vals))
    if diffs:
        return CheckResult("warn", "nodes run different stacks: " + "; ".join(diffs),
                           "bring every node to the same driver, CUDA, Docker and toolkit versions", {"stacks": table})
    if not any(table.values()):
        return CheckResult("unknown", "no versions known", data={"stacks": table})
    return CheckResult("pass", "same driver / CUDA / Docker / toolkit on all nodes", data={"stacks": table})


def check_clock_sync(cluster: Any) -> CheckResult:
    if not cluster.reachable:
        return CheckResult("unknown", "no node answered")
    states: dict[str, dict[str, Any] | None] = {}
    unsynced: list[str] = []
    unknown: list[str] = []
    for h in cluster.reachable:
        c = h.get("chrony")
        if not c or c.synchronized is None:
            c = h.get("timedatectl") or c
        if not c:
            unknown.append(f"{h.host}: {c.reason}")
            states[h.host] = None
            continue
        states[h.host] = {"synchronized": c.synchronized, "offset_s": c.offset_s, "source": c.source}
        if c.synchronized is False or (c.offset_s is not None and abs(c.offset_s) > MAX_OFFSET_S):
            unsynced.append(h.host)
    from sparkpilot.facts import clock_offset

    offsets: dict[str, tuple[float, float]] = {}
    for h in cluster.reachable:
        off = clock_offset(h)
        if off is not None:
            offsets[h.host] = off
    data = {"clocks": states, "offsets_s": {k: round(v[0], 3) for k, v in offsets.items()}}
    if len(offsets) >= 2:
        lo = min(offsets.items(), key=lambda kv: kv[1][0])
        hi = max(offsets.items(), key=lambda kv: kv[1][0])
        skew = hi[1][0] - lo[1][0] - hi[1][1] - lo[1][1]
        if skew > MAX_SKEW_S:
            return CheckResult("warn", f"clocks differ by {hi[1][0] - lo[1][0]:.2f} s between {hi[0]} and {lo[0]}",
                               "sudo timedatectl set-ntp true on every node (or start chrony)", data)
    if unsynced:
        return CheckResult("warn", f"clock not synchronised on {', '.join(unsynced)}: Ray and NCCL timeouts and "
                           "log timestamps disagree between nodes", "sudo timedatectl set-ntp true (or start chrony)",
                           data)
    if unknown and len(unknown) == len(cluster.reachable):
        if len(cluster.hosts) < 2:
            return CheckResult("skip", "one node, and its clock state is unknown (" + "; ".join(unknown) + ")", data=data)
        return CheckResult("unknown", "; ".join(unknown), data=data)
    return CheckResult("pass", "clocks synchronised" + (f" ({'; '.join(unknown)})" if unknown else ""), data=data)


def check_roce_gid_match(cluster: Any) -> CheckResult:
    from sparkpilot.interconnect import interconnect_env, is_placeholder, node_net

    early = _multi(cluster)
    if early:
        return early
    idx = {}
    for h in cluster.reachable:
        v = interconnect_env(node_net(h))["NCCL_IB_GID_INDEX"]
        if not is_placeholder(v):
            idx[h.host] = int(v)
    if len(idx) < 2:
        return CheckResult("unknown", "RoCE GID index known on fewer than two nodes", data={"gid_index": idx})
    from sparkpilot.checks.net import nccl_picks_gid

    auto, stack = nccl_picks_gid(cluster)
    if len(set(idx.values())) > 1 and auto:
        return CheckResult("pass", "RoCEv2 IPv4 GID index differs between nodes (" + _spread(idx) + f"); {stack} "
                           "picks each node's own, so NCCL_IB_GID_INDEX stays unset", data={"gid_index": idx})
    if len(set(idx.values())) > 1:
        return CheckResult("warn", "RoCEv2 IPv4 GID index differs between nodes (" +
                           _spread(idx) + "): one NCCL_IB_GID_INDEX for all "
                           "nodes breaks NCCL init", "set NCCL_IB_GID_INDEX per node (sparkpilot plan --inventory "
                           "does)", {"gid_index": idx})
    return CheckResult("pass", f"GID index {next(iter(idx.values()))} on all nodes", data={"gid_index": idx})


def _spread(values: dict[str, Any]) -> str:
    """'590.48.01 on a; 580.126.09 on b, c' with the most common value last, shortened for many nodes."""
    by: dict[str, list[str]] = {}
    for host, v in values.items():
        by.setdefault(str(v), []).append(host)
    parts = []
    for v, hosts in sorted(by.items(), key=lambda kv: len(kv[1])):
        shown = ", ".join(hosts[:3]) + (f" and {len(hosts) - 3} more" if len(hosts) > 3 else "")
        parts.append(f"{v} on {shown}")
    return "; ".join(parts)
