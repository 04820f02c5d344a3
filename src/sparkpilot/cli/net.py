"""sparkpilot net: set up, prove and keep the Spark-to-Spark QSFP fabric.

    sparkpilot net plan  --host A --host B          cable map, topology, addresses, the exact nmcli
    sparkpilot net apply --host A --host B --apply  apply with a rollback armed on each host
    sparkpilot net undo  --host A --host B --apply  restore the last snapshot
    sparkpilot net check --host A --host B          link, addresses/MTU/pings, RDMA, NCCL; the env
    sparkpilot net check --drift                    what changed since the last good check
Nothing changes without --apply. Exit 1 when the fabric is not fit for a cluster, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sparkpilot.cli.common import add_format, print_json
from sparkpilot.errors import EXIT_FINDINGS, EXIT_OK, UsageError

EXAMPLES = """\
  sparkpilot net plan --host user@spark-1 --host user@spark-2
  sparkpilot net apply --inventory cluster.yaml --apply
  sparkpilot net check --inventory cluster.yaml --format json
  sparkpilot net check --inventory cluster.yaml --drift
  sparkpilot net undo --inventory cluster.yaml --apply
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("plan", "apply", "undo", "check"), help="what to do")
    parser.add_argument("--host", action="append", metavar="HOST",
                        help="user@host[:port]; repeat for every node (the first is the head)")
    parser.add_argument("--inventory", metavar="FILE", help="YAML inventory (its interconnect addresses are used)")
    parser.add_argument("--apply", action="store_true", help="apply / undo: really change the hosts")
    parser.add_argument("--rollback-after", type=int, default=90, metavar="S",
                        help="apply: seconds after which each host restores its snapshot unless every "
                             "peer answered on every rail (default 90)")
    parser.add_argument("--drift", action="store_true", help="check: compare with the last good check")
    parser.add_argument("--tiers", type=int, default=4, choices=(1, 2, 3, 4), metavar="N",
                        help="check: stop after tier N (1 link, 2 addresses/pings, 3 RDMA, 4 NCCL; default 4)")
    parser.add_argument("--timeout", type=float, default=20.0, metavar="S",
                        help="seconds for each remote command (default 20)")
    add_format(parser)


def _inventory(args: argparse.Namespace) -> Any:
    from sparkpilot import inventory

    if args.inventory and args.host:
        raise UsageError("give --inventory or --host, not both")
    if not args.inventory and not args.host:
        raise UsageError("net needs the nodes: --inventory FILE or --host user@spark (one per node)")
    inv = inventory.load(args.inventory) if args.inventory else inventory.from_hosts(args.host)
    if any(n.ssh == "local" or n.ssh.startswith("replay://") for n in inv.nodes) and args.action in ("apply", "undo"):
        raise UsageError(f"net {args.action} changes hosts over ssh: give user@host for every node")
    return inv


def run(args: argparse.Namespace) -> int:
    if not 0 < args.timeout < float("inf"):
        raise UsageError("--timeout must be a positive number of seconds")
    if args.rollback_after < 10:
        raise UsageError("--rollback-after must be at least 10 seconds")
    if args.drift and args.action != "check":
        raise UsageError("--drift goes with `net check`")
    inv = _inventory(args)
    from sparkpilot.transport import connect

    runners = [connect(n.ssh, timeout=args.timeout) for n in inv.nodes]
    try:
        return _run(args, inv, runners)
    finally:
        from sparkpilot.transport.base import close_all

        close_all(runners)


def _run(args: argparse.Namespace, inv: Any, runners: list[Any]) -> int:
    from sparkpilot.netcfg.gather import gather

    names = [n.name for n in inv.nodes]
    if args.action == "undo":
        return _undo(args, names, runners)
    states = gather(list(zip(names, runners, strict=True)), timeout=args.timeout)
    if args.action == "check":
        from sparkpilot.cli.net_check import run_check

        return run_check(args, inv, states, runners)
    from sparkpilot.netcfg.plan import make_plan, render

    inventory_addrs = [list(n.interconnect) for n in inv.nodes] if any(n.interconnect for n in inv.nodes) else None
    plan = make_plan(states, inventory_addrs)
    text = args.format != "json"
    if text:
        print(render(plan, names))
    if plan.problems:
        if not text:
            print_json({"plan": plan.to_dict(), "applied": None})
        return EXIT_FINDINGS
    if args.action == "plan" or not args.apply:
        if not text:
            print_json({"plan": plan.to_dict(), "applied": None})
        elif args.action == "apply" and plan.changes:
            print("\nnothing changed: add --apply to apply this (each host rolls back by itself "
                  f"after {args.rollback_after} s unless every peer answers)")
        return EXIT_OK
    from sparkpilot.netcfg.apply import apply

    if text and plan.changes:
        print()
    result = apply(plan, runners, seconds=args.rollback_after, timeout=args.timeout,
                   say=(lambda s: print(s, flush=True)) if text else (lambda s: None))
    if not text:
        print_json({"plan": plan.to_dict(), "applied": result.to_dict()})
    return EXIT_OK if result.outcome in ("applied", "unchanged") else EXIT_FINDINGS


def _undo(args: argparse.Namespace, names: list[str], runners: list[Any]) -> int:
    from sparkpilot.errors import TransportError
    from sparkpilot.netcfg import rollback

    script = rollback.undo_script() if args.apply else rollback.undo_preview_script()
    rows, bad = [], False
    for name, runner in zip(names, runners, strict=True):
        try:
            res = runner.run(["sudo", "-n", "sh", "-c", script], timeout=args.timeout + 30)
            out = res.stdout.strip()
            ok = res.rc == 0
        except TransportError as exc:
            out, ok = f"not reachable ({exc})", False
        bad |= not ok
        rows.append({"node": name, "ok": ok, "output": out})
    if args.format == "json":
        print_json({"undo": rows, "applied": args.apply})
    else:
        for r in rows:
            if args.apply:
                print(f"{r['node']}: " + (f"restored snapshot {r['output'].splitlines()[-1]}" if r["ok"] else r["output"]))
                continue
            lines = r["output"].splitlines()
            stamp = next((ln.split(" ", 1)[1] for ln in lines if ln.startswith("snapshot ")), None)
            if not stamp:
                print(f"{r['node']}: {r['output'] or 'no snapshot'}")
                continue
            keyfiles = [ln.split(" ", 1)[1] for ln in lines if ln.startswith("keyfile ")]
            active = [ln.split(" ", 1)[1] for ln in lines if ln.startswith("active ")]
            names = [k.split("/", 1)[1].removesuffix(".nmconnection")
                     + (" (in memory)" if k.startswith("run/") else " (on disk)") for k in keyfiles]
            print(f"{r['node']}: snapshot {stamp} would bring back {len(keyfiles)} profile(s): {', '.join(names)}")
            for a in active:
                uuid, _, dev = a.partition(":")
                print(f"  and re-activate {uuid} on {dev}")
        if not args.apply:
            print("\nnothing changed: add --apply to restore these snapshots", file=sys.stdout)
    return EXIT_FINDINGS if bad else EXIT_OK
