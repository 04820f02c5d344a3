"""`net check`: tier by tier, stopping at the first tier that fails, judged by knowledge/fabric.yaml.

  1 link       every port in use links at 200000Mb/s (`ethtool PORT`); a switch port at 100G named
  2 addresses  one IPv4 per port, both ends of a segment on one subnet, segments on different
               subnets (not both rails on one), MTU 9000 both ends, DF pings MTU-28 every rail both ways
  3 rdma       ib_write_bw per logical port: a single-QP run first (what owners run); low -> a
               4-QP run on the same port decides artifact or fault; both ports of a cable at once
  4 nccl       all_gather_perf across the nodes (nccl-tests via mpirun on the head) with a buffer
               bounded by the nodes' free memory (at most 4 GB); busbw against the pair/switch or
               ring threshold
Statuses as CONTRACTS: pass, warn, fail, skip, unknown (with the reason).
"""

from __future__ import annotations

import ipaddress
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from sparkpilot.errors import TransportError
from sparkpilot.knowledge.fabric import healthy, limit, threshold
from sparkpilot.netcfg.plan import NetPlan, NodePlan
from sparkpilot.netcfg.topology import Fabric, rail_key
from sparkpilot.probes.netdev import sections

TIERS = {1: "link", 2: "addresses", 3: "rdma", 4: "nccl"}
STATUS_ORDER = ("pass", "skip", "unknown", "warn", "fail")


@dataclass
class Check:
    name: str
    status: str
    message: str
    fix: str | None = None
    node: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "node": self.node, "status": self.status, "message": self.message,
                "fix": self.fix, "data": self.data}


def worst(checks: list[Check]) -> str:
    return max((c.status for c in checks), key=STATUS_ORDER.index, default="skip")


def _fix(name: str) -> str:
    return str(threshold(name)["fix"])


def current_plan(states: list[Any], fab: Fabric) -> NetPlan:
    """The fabric as it is: each port in use with its current (first) IPv4 address."""
    nodes = [NodePlan(st.name, st.host) for st in states]
    for seg in fab.segments:
        for i, port in seg:
            ln = states[i].links.get(port) if states[i].links else None
            if ln and ln.ipv4:
                nodes[i].ports[port] = ln.ipv4[0]
    return NetPlan(fab, nodes)


def tier_link(states: list[Any], fab: Fabric, runners: list[Any], timeout: float) -> list[Check]:
    from sparkpilot.probes.fabric import parse_ethtool

    if fab.topology in ("none", "partial"):
        return [Check("cables", "fail", f"no usable fabric: {fab.why}",
                      "cable the Sparks (a pair, a ring of three, or a switch) and reboot with the cables attached")]
    out = [Check("cables", "pass", f"{fab.topology}: {fab.why}")]
    out += [Check("cables", "warn", f"{p}: link up but no neighbour answered on it (IPv6 link-local off on "
                  "either end?); it is left out", node=states[i].name) for i, p in fab.unmapped]
    want, slow = limit("link-speed"), limit("link-speed", "switch_port_100g")
    for i, st in enumerate(states):
        ports = sorted({p for seg in fab.segments for (j, p) in seg if j == i}, key=rail_key)
        script = "; ".join(f"echo '## {p}'; ethtool {shlex.quote(p)} 2>&1" for p in ports)
        try:
            text = runners[i].run(["sh", "-c", script], timeout=timeout).stdout
        except TransportError as exc:
            out.append(Check("link-speed", "unknown", f"not reachable: {exc}", node=st.name))
            continue
        for p, lines in sections(text, strict=False).items():
            body = "\n".join(lines)
            try:
                sp = parse_ethtool(body)
            except ValueError:
                out.append(Check("link-speed", "unknown", f"{p}: ethtool gave no speed ({body.strip()[:80]})",
                                 node=st.name))
                continue
            data = {"port": p, "mbps": sp.mbps}
            if sp.mbps is not None and sp.mbps >= want:
                out.append(Check("link-speed", "pass", f"{p}: {sp.mbps}Mb/s", node=st.name, data=data))
            elif sp.mbps == slow:
                out.append(Check("link-speed", "fail", f"{p}: {sp.mbps}Mb/s: the switch port negotiated 100G",
                                 _fix("link-speed"), st.name, data))
            else:
                out.append(Check("link-speed", "fail", f"{p}: {sp.mbps or 'unknown'} Mb/s, not {int(want)}",
                                 _fix("link-speed"), st.name, data))
    return out



def tier_addresses(states: list[Any], fab: Fabric, runners: list[Any], timeout: float) -> list[Check]:
    from sparkpilot.netcfg.apply import df_pings

    out: list[Check] = []
    mtu = int(limit("mtu"))
    nets: dict[tuple[int, str], Any] = {}
    for seg in fab.segments:
        for i, port in seg:
            ln = states[i].links.get(port) if states[i].links else None
            addrs = ln.ipv4 if ln else []
            if len(addrs) != 1:
                what = "no IPv4 address" if not addrs else "several: " + ", ".join(addrs)
                out.append(Check("address", "fail", f"{port}: {what}",
                                 "sparkpilot net apply --apply (one static address per port)", states[i].name))
            else:
                nets[(i, port)] = ipaddress.ip_interface(addrs[0]).network
            if ln and ln.mtu != mtu:
                conn = states[i].nm_devices.get(port, ("", ""))[1]
                fix = (f"sudo nmcli con mod '{conn}' 802-3-ethernet.mtu {mtu} && sudo nmcli con up '{conn}' "
                       "(or: sparkpilot net apply --apply)") if conn else _fix("mtu")
                out.append(Check("mtu", "fail", f"{port}: MTU {ln.mtu}, not {mtu}", fix, states[i].name,
                                 {"port": port, "mtu": ln.mtu}))
        seg_nets = {nets[p] for p in seg if p in nets}
        if len(seg_nets) > 1:
            out.append(Check("subnet", "fail", "the two ends of a link are on different subnets: " + ", ".join(
                f"{states[i].name} {p} {nets[(i, p)]}" for i, p in seg if (i, p) in nets),
                "sparkpilot net apply --apply (the same /24 at both ends)"))
    for i, st in enumerate(states):
        mine = {p: n for (j, p), n in nets.items() if j == i}
        by_net: dict[Any, list[str]] = {}
        for p, n in mine.items():
            by_net.setdefault(n, []).append(p)
        for n, ports in by_net.items():
            if len(ports) > 1:
                out.append(Check("subnet", "fail", f"{' and '.join(sorted(ports))} are both on {n}: the kernel "
                                 "routes every peer through one of them",
                                 "one subnet per logical port: sparkpilot net apply --apply", st.name))
    if any(c.status == "fail" for c in out):
        return out
    pings = df_pings(current_plan(states, fab), runners, timeout)
    bad = [p for p in pings if not p.ok]
    msg = f"don't-fragment pings of {mtu - 28} bytes: {len(pings) - len(bad)}/{len(pings)} answered"
    if bad:
        lost = ", ".join(f"{p.src} {p.port} -> {p.dst} {p.address}" for p in bad)
        out.append(Check("df-ping", "fail", f"{msg}; no answer: {lost}",
                         _fix("mtu"), data={"pings": [p.__dict__ for p in pings]}))
    else:
        out.append(Check("df-ping", "pass", msg + " (every rail, both ways)", data={"pings": [p.__dict__ for p in pings]}))
    out.insert(0, Check("address", "pass", f"{len(nets)} ports, one subnet per segment, MTU {mtu} at both ends"))
    return out


def _write_bw(runners: list[Any], client: tuple[int, str, str], server: tuple[int, str], qps: int,
              timeout: float) -> tuple[float | None, str]:
    """One ib_write_bw run: server on the peer (detached, bounded), client here. (Gb/s, why None)."""
    from sparkpilot.probes.fabric import parse_ib_write_bw

    (i, dev, peer_addr), (j, peer_dev) = client, server
    srv = (f"setsid timeout 30 ib_write_bw -d {shlex.quote(peer_dev)} -R --report_gbits -q {qps} "
           "</dev/null >/dev/null 2>&1 & echo started")
    try:
        got = runners[j].run(["sh", "-c", "command -v ib_write_bw >/dev/null || exit 127; " + srv], timeout=timeout)
        if got.rc == 127:
            return None, "perftest is not installed (sudo apt install perftest)"
        time.sleep(0.5)
        res = runners[i].run(["ib_write_bw", "-d", dev, "-R", "--report_gbits", "-q", str(qps), peer_addr],
                             timeout=timeout + 30)
    except TransportError as exc:
        return None, str(exc)
    if res.rc == 127:
        return None, "perftest is not installed (sudo apt install perftest)"
    try:
        return parse_ib_write_bw(res.stdout).avg_gbps, ""
    except ValueError:
        return None, (res.stderr or res.stdout).strip().splitlines()[-1][:160] if (res.stderr or res.stdout).strip() \
            else f"ib_write_bw exit {res.rc}"


def tier_rdma(states: list[Any], fab: Fabric, runners: list[Any], timeout: float) -> list[Check]:
    from concurrent.futures import ThreadPoolExecutor

    out: list[Check] = []
    cur = current_plan(states, fab)
    low, ok_at = limit("rdma-write-bw-port"), healthy("rdma-hotplug-degraded") or (0.0, 0.0)
    qps = int(limit("rdma-write-bw-port", "multi_qp_at_least"))
    pairs = []   # (client, server) per segment: the first port to the second (switch: to each other)
    for seg in fab.segments:
        (i, p) = seg[0]
        for j, q in seg[1:]:
            dev, peer_dev = states[i].ibdev(p), states[j].ibdev(q)
            addr = cur.nodes[j].ports.get(q, "").split("/")[0]
            if dev and peer_dev and addr:
                pairs.append(((i, dev, addr), (j, peer_dev), p))
            else:
                out.append(Check("rdma-write-bw", "unknown", f"{p} -> {states[j].name} {q}: no RoCE device or address",
                                 node=states[i].name))
    for client, server, port in pairs:
        name = states[client[0]].name
        label = f"{port} ({client[1]}) -> {states[server[0]].name}"
        single, why = _write_bw(runners, client, server, 1, timeout)
        if single is None:
            out.append(Check("rdma-write-bw", "unknown", f"{label}: {why}", node=name))
            continue
        if single >= low:
            out.append(Check("rdma-write-bw", "pass", f"{label}: {single:.2f} Gb/s", node=name,
                             data={"port": port, "single_qp_gbps": single}))
            continue
        multi, why = _write_bw(runners, client, server, qps, timeout)
        data = {"port": port, "single_qp_gbps": single, "multi_qp_gbps": multi, "qps": qps}
        if multi is None:
            out.append(Check("rdma-write-bw", "unknown", f"{label}: single QP {single:.2f} Gb/s; {qps}-QP run: {why}",
                             node=name, data=data))
        elif multi >= low:
            out.append(Check("rdma-write-bw", "pass", f"{label}: {qps} QPs {multi:.2f} Gb/s; the single-QP "
                             f"{single:.2f} Gb/s is an ib_write_bw artifact", node=name, data=data))
        else:
            hot = ok_at[0] <= multi <= ok_at[1]
            out.append(Check("rdma-write-bw", "fail", f"{label}: {multi:.2f} Gb/s with {qps} QPs, healthy is "
                             f"{low:.0f}+" + ("; about 13 Gb/s is a hot-plugged cable" if hot else ""),
                             _fix("rdma-hotplug-degraded") if hot else _fix("rdma-write-bw-port"), name, data))
    if any(c.status == "fail" for c in out):
        return out
    cables: dict[tuple[int, int, str], list[Any]] = {}   # both logical ports of one cable between two nodes
    for client, server, port in pairs:
        from sparkpilot.netcfg.topology import cage

        cables.setdefault((client[0], server[0], cage(port)), []).append((client, server))
    for (i, j, cg), runs in cables.items():
        if len(runs) < 2:
            continue
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            got = list(pool.map(lambda r: _write_bw(runners, r[0], r[1], qps, timeout), runs))
        if any(g[0] is None for g in got):
            continue
        total = sum(g[0] or 0.0 for g in got)
        need = limit("rdma-write-bw-both")
        out.append(Check("rdma-write-bw-both", "pass" if total >= need else "fail",
                         f"{states[i].name} -> {states[j].name} cage {cg}, both logical ports at once: {total:.1f} Gb/s "
                         f"(healthy {need:.0f}+)", None if total >= need else _fix("rdma-write-bw-both"),
                         states[i].name, {"gbps": total}))
    return out


def nccl_argv(states: list[Any], hosts: list[str], env: dict[str, str]) -> list[str]:
    cap = int(limit("nccl-test-buffer", "max"))
    bound = min(cap, min((st.mem_available_kb or 0) * 1024 for st in states) // 4)   # send + receive, margin
    top = 1 << 20
    while top * 2 <= bound:
        top *= 2

    def human(b: int) -> str:
        return f"{b >> 30}G" if b >= 1 << 30 else f"{b >> 20}M"

    start, size = human(max(top // 4, 1 << 20)), human(top)
    argv = ["mpirun", "--allow-run-as-root", "-np", str(len(states)), "-H", ",".join(f"{h}:1" for h in hosts)]
    for k, v in env.items():
        argv += ["-x", f"{k}={v}"]
    return [*argv, "all_gather_perf", "-b", start, "-e", size, "-f", "2"]


def tier_nccl(states: list[Any], fab: Fabric, runners: list[Any], *, hosts: list[str], env: dict[str, str],
              timeout: float) -> list[Check]:
    from sparkpilot.probes.fabric import parse_nccl_tests

    name = "nccl-allgather-busbw-ring" if fab.topology == "ring" else "nccl-allgather-busbw"
    need = limit(name)
    try:
        have = runners[0].run(["sh", "-c", "command -v mpirun && command -v all_gather_perf"], timeout=timeout)
        if have.rc != 0:
            return [Check("nccl", "unknown", "nccl-tests (mpirun + all_gather_perf) is not on the head; running the "
                          "all-gather inside the deployment's image is not implemented yet", node=states[0].name)]
        argv = nccl_argv(states, hosts, env)
        res = runners[0].run(argv, timeout=max(timeout, 300))
    except TransportError as exc:
        return [Check("nccl", "unknown", f"not reachable: {exc}", node=states[0].name)]
    try:
        test = parse_nccl_tests(res.stdout)
    except ValueError:
        last = (res.stderr or res.stdout).strip().splitlines()
        return [Check("nccl", "unknown", f"all_gather_perf gave no result: {last[-1][:160] if last else res.rc}",
                      node=states[0].name, data={"argv": argv})]
    busbw = test.peak_busbw or 0.0
    one_port = healthy("nccl-single-port") or (0.0, 0.0)
    data = {"argv": argv, "busbw_gbps": busbw, "avg_busbw": test.avg_busbw, "ranks": test.ranks, "wrong": test.wrong}
    if test.wrong:
        return [Check("nccl", "fail", f"all_gather_perf found {test.wrong} wrong values", node=states[0].name, data=data)]
    if busbw >= need:
        return [Check("nccl", "pass", f"all_gather busbw {busbw:.2f} GB/s at the largest size over {test.ranks or len(states)} "
                      f"ranks ({fab.topology}: {need} GB/s needed)", node=states[0].name, data=data)]
    cause = " (about 3 GB/s: NCCL uses one logical port or sockets)" if one_port[0] <= busbw <= one_port[1] else ""
    return [Check("nccl", "fail", f"all_gather busbw {busbw:.2f} GB/s, below {need} GB/s{cause}",
                  _fix("nccl-single-port") if cause else _fix(name), states[0].name, data)]
