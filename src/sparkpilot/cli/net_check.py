"""`sparkpilot net check [--drift]`: the tiers, the environment launches need, drift (cli/net.py)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sparkpilot.cli.common import print_json
from sparkpilot.errors import EXIT_FINDINGS, EXIT_OK, TransportError

MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "skip", "unknown": "  ? "}


def _hosts(inv: Any) -> list[str]:
    """The management address mpirun reaches each node by (the ssh target's host part)."""
    from sparkpilot.transport import parse_host_spec

    return [parse_host_spec(n.ssh).host for n in inv.nodes]


def run_check(args: argparse.Namespace, inv: Any, states: list[Any], runners: list[Any]) -> int:
    from sparkpilot.netcfg import check as ck
    from sparkpilot.netcfg.drift import environments, save_script, summary
    from sparkpilot.netcfg.topology import cable_map, describe

    names = [st.name for st in states]
    down = [st for st in states if not st.reachable]
    fab = cable_map(states)
    tiers: list[dict[str, Any]] = []
    stopped = None
    envs = environments(states, fab) if not down else {}
    if down:
        tiers.append({"tier": 0, "name": "reachable", "status": "fail", "checks": [
            ck.Check("reachable", "fail", f"not reachable: {st.reason}", node=st.name).to_dict() for st in down]})
        stopped = 0
    elif args.drift:
        return _drift(args, states, fab, names)
    else:
        for n in range(1, args.tiers + 1):
            if n == 1:
                checks = ck.tier_link(states, fab, runners, args.timeout)
            elif n == 2:
                checks = ck.tier_addresses(states, fab, runners, args.timeout)
            elif n == 3:
                checks = ck.tier_rdma(states, fab, runners, args.timeout)
            else:
                head_env = {k: v for k, v in envs.get(names[0], {}).items() if not v.startswith("<")}
                checks = ck.tier_nccl(states, fab, runners, hosts=_hosts(inv), env=head_env, timeout=args.timeout)
            status = ck.worst(checks)
            tiers.append({"tier": n, "name": ck.TIERS[n], "status": status, "checks": [c.to_dict() for c in checks]})
            if status == "fail":
                stopped = n
                break
    failed = stopped is not None
    saved = False
    if not failed and len(tiers) >= 2:   # links, addresses and pings good: the baseline for --drift
        for i, (st, r) in enumerate(zip(states, runners, strict=True)):
            try:
                r.run(["sudo", "-n", "sh", "-c", save_script(summary(st, fab, i))], timeout=args.timeout)
                saved = True
            except TransportError:
                pass
    report = {"topology": fab.topology, "cables": describe(fab, names), "tiers": tiers,
              "stopped_at": stopped, "env": envs, "fit": not failed, "baseline_saved": saved}
    if args.format == "json":
        print_json(report)
    else:
        print(_render(report))
    return EXIT_FINDINGS if failed else EXIT_OK


def _render(report: dict[str, Any]) -> str:
    lines = [f"topology: {report['topology']}"] + [f"  {c}" for c in report["cables"]]
    for t in report["tiers"]:
        lines.append(f"tier {t['tier']} {t['name']}: {t['status']}")
        for c in t["checks"]:
            who = f"{c['node']}: " if c.get("node") else ""
            lines.append(f"  {MARK.get(c['status'], c['status'])} {who}{c['message']}")
            if c.get("fix") and c["status"] in ("fail", "warn"):
                lines.append(f"       fix: {c['fix']}")
    if report["stopped_at"] is not None:
        lines.append(f"stopped at tier {report['stopped_at']}: the fabric is not fit for a cluster")
    elif any(t["status"] == "unknown" for t in report["tiers"]):
        unmeasured = ", ".join(f"tier {t['tier']} {t['name']}" for t in report["tiers"] if t["status"] == "unknown")
        lines.append(f"no tier failed; not measured: {unmeasured} (see above)")
    else:
        lines.append("the fabric is fit for a cluster")
    if report["env"]:
        lines.append("environment for launches (plan and up take it from here):")
        for node, env in report["env"].items():
            lines.append(f"  {node}: " + " ".join(f"{k}={v}" for k, v in env.items()))
        if any("NCCL_IB_GID_INDEX" not in env for env in report["env"].values()):
            lines.append("  NCCL_IB_GID_INDEX left unset where no RoCEv2 IPv4 GID is seen for every port: NCCL 2.21+ "
                         "picks it by address family (older NCCL: run net check again once the GIDs show)")
        if report["topology"] == "ring":
            lines.append("  ring: no QSFP subnet reaches every node; bootstrap (<NCCL_SOCKET_IFNAME>, <GLOO_SOCKET_IFNAME>, "
                         "<UCX_NET_DEVICES>, <VLLM_HOST_IP>) over the management interface, as NVIDIA's ring playbook does")
        elif any(v.startswith("<") for env in report["env"].values() for v in env.values()):
            lines.append("  <VAR>: not known from this host's facts")
    return "\n".join(lines)


def _drift(args: argparse.Namespace, states: list[Any], fab: Any, names: list[str]) -> int:
    from sparkpilot.netcfg.drift import compare, summary

    rows, bad = [], False
    for i, st in enumerate(states):
        now = summary(st, fab, i)
        if not st.last_good:
            rows.append({"node": st.name, "status": "unknown", "changes": [],
                         "message": "no good check recorded on this host yet (run `sparkpilot net check`)"})
            bad = True
            continue
        try:
            before = json.loads(st.last_good)
        except ValueError:
            before = {}
        changes = compare(before, now, fab.topology)
        bad |= bool(changes)
        rows.append({"node": st.name, "status": "fail" if changes else "pass", "changes": changes,
                     "message": f"{len(changes)} change(s) since the last good check" if changes
                     else "as at the last good check"})
    if args.format == "json":
        print_json({"drift": rows, "topology": fab.topology})
    else:
        for r in rows:
            lines = [f"{MARK[r['status']]} {r['node']}: {r['message']}"] + [f"       {c}" for c in r["changes"]]
            print("\n".join(lines))
    return EXIT_FINDINGS if bad else EXIT_OK
