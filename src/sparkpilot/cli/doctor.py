"""sparkpilot doctor: check one or many Sparks over SSH and say what to do.

    sparkpilot doctor                          # this machine
    sparkpilot doctor --host user@spark-1 --host user@spark-2
    sparkpilot doctor --inventory cluster.yaml --format json
    sparkpilot doctor --host replay://pair     # a recorded pair shipped with sparkpilot
    sparkpilot doctor --fix                    # print the exact commands that fix what failed
    sparkpilot doctor --fix --apply            # ... and run them (sudo -n), after showing them
Exit 1 when a check fails or a host does not answer; 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sparkpilot.cli.common import add_format, print_json
from sparkpilot.errors import EXIT_FINDINGS, EXIT_OK, UsageError

MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "skip", "unknown": "  ? "}


EXAMPLES = """\
  sparkpilot doctor                                 this machine
  sparkpilot doctor --host user@spark-1 --host user@spark-2 --fix
  sparkpilot doctor --host replay://broken          a recorded Spark (--list-replays)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", action="append", metavar="HOST",
                        help="local (default), user@host[:port], or replay://NAME; repeat for several nodes "
                             "(the first is the head)")
    parser.add_argument("--inventory", metavar="FILE", help="YAML inventory: nodes, roles, interconnect addresses")
    parser.add_argument("--image", help="container image whose CUDA to check against the driver")
    parser.add_argument("--gid-index", type=int, metavar="N",
                        help="the NCCL_IB_GID_INDEX your launch uses (warn on nodes whose index differs)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S",
                        help="seconds for each remote command and connection (default 10)")
    parser.add_argument("--fix", action="store_true", help="print the exact commands that fix what failed or warned")
    parser.add_argument("--apply", action="store_true",
                        help="with --fix: run those commands on the hosts (sudo -n) after showing them")
    parser.add_argument("--list-replays", action="store_true", help="list the recorded Sparks shipped with sparkpilot")
    add_format(parser)


def run(args: argparse.Namespace) -> int:
    if args.list_replays:
        return _list_replays(args)
    if args.apply and not args.fix:
        raise UsageError("--apply needs --fix (see what will be run first)")
    if not 0 < args.timeout < float("inf"):
        raise UsageError("--timeout must be a positive number of seconds")
    if args.gid_index is not None and args.gid_index < 0:
        raise UsageError(f"--gid-index must be 0 or more (a row of `show_gids`), not {args.gid_index}")
    inv = _inventory(args)
    from sparkpilot.checks import evaluate
    from sparkpilot.facts import collect

    cluster = collect(inv, timeout=args.timeout, image=args.image or inv.image, gid_index=args.gid_index)
    ev = evaluate(cluster)
    report = ev.to_dict()
    if args.format == "json":
        if args.fix:
            report["fix"] = _fix_plan(ev)
        print_json(report)
    else:
        print(render_text(ev))
        if args.fix:
            print(render_fix(ev, args.apply))
    applied = _apply(ev, args, quiet=args.format == "json") if args.apply else True
    from sparkpilot.checks import failed

    if args.apply and fix_changes(ev):
        # judge the hosts as they are now: the exit code says whether checks still fail after the fixes
        after = evaluate(collect(inv, timeout=args.timeout, image=args.image or inv.image, gid_index=args.gid_index))
        report = after.to_dict()
        still = [f"{h['host']}: {c['name']}" for h in report["hosts"] for c in h["checks"] if c["status"] == "fail"]
        out = sys.stderr if args.format == "json" else sys.stdout
        print("after the fixes: " + ("still failing: " + ", ".join(still) if still else "no check fails"), file=out)
    return EXIT_FINDINGS if failed(report) or not applied else EXIT_OK


def _inventory(args: argparse.Namespace):
    from sparkpilot import inventory

    if args.inventory and args.host:
        raise UsageError("give --inventory or --host, not both")
    if args.inventory:
        return inventory.load(args.inventory)
    return inventory.from_hosts(args.host, args.image)


def _list_replays(args: argparse.Namespace) -> int:
    from sparkpilot.transport.replay import list_replays

    reps = list_replays()
    if args.format == "json":
        print_json({"replays": reps})
        return EXIT_OK
    for r in reps:
        print(f"replay://{r['name']:<10} {len(r['nodes'])} node{'s' if len(r['nodes']) != 1 else ''}  "
              f"{r['description']}")
    print("\nUse: sparkpilot doctor --host replay://NAME")
    return EXIT_OK


def render_text(ev: Any) -> str:
    lines: list[str] = []
    counts: dict[str, int] = {}
    width = 16
    for h, results in ev.hosts:
        title = h.host + (f" ({h.name})" if h.name and h.name != h.host else "")
        if not h.reachable:
            lines.append(f"{title}: NOT REACHABLE: {h.reason}")
        else:
            lines.append(f"{title}" + ("  [recorded]" if h.recorded else ""))
        for c in results:
            counts[c.status] = counts.get(c.status, 0) + 1
            if not h.reachable:
                continue
            lines.append(f"  {MARK[c.status]}  {c.name:<{width}} {c.message}")
            if c.fix and c.status in ("warn", "fail"):
                lines.append(f"        {'':<{width}} fix: {c.fix}")
        lines.append("")
    lines.append("cluster")
    for c in ev.cluster:
        counts[c.status] = counts.get(c.status, 0) + 1
        lines.append(f"  {MARK[c.status]}  {c.name:<{width}} {c.message}")
        if c.fix and c.status in ("warn", "fail"):
            lines.append(f"        {'':<{width}} fix: {c.fix}")
    unreachable = sum(1 for h, _ in ev.hosts if not h.reachable)
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pass", "warn", "fail", "unknown", "skip"))
    lines.append("")
    lines.append(f"{len(ev.hosts)} host{'s' if len(ev.hosts) != 1 else ''}"
                 + (f" ({unreachable} not reachable)" if unreachable else "") + f": {summary}")
    return "\n".join(lines)


def _fix_plan(ev: Any) -> list[dict[str, Any]]:
    plan = []
    for h, results in ev.hosts:
        cmds = [{"check": c.name, "argv": cmd} for c in results if c.status in ("warn", "fail") for cmd in c.commands]
        if cmds:
            plan.append({"host": h.host, "commands": cmds})
    return plan


def render_fix(ev: Any, applying: bool) -> str:
    import shlex

    plan = _fix_plan(ev)
    manual = _by_hand(ev)
    if not plan:
        lines = ["", "Nothing to fix automatically."]
    else:
        lines = ["", "Fix commands" + (" (running them now):" if applying else
                                       " (nothing changes on a host without --apply):")]
    for entry in plan:
        lines.append(f"  on {entry['host']}:")
        for c in entry["commands"]:
            lines.append(f"    {shlex.join(c['argv'])}    # {c['check']}")
    if manual:
        lines.append("To fix by hand (each check's `fix:` line above says how): " + ", ".join(manual))
    return "\n".join(lines)


def _by_hand(ev: Any) -> list[str]:
    """Checks that warned or failed with no command sparkpilot can run for them."""
    out: list[str] = []
    many = len(ev.hosts) > 1
    for h, results in ev.hosts:
        for c in results:
            if c.status in ("warn", "fail") and not c.commands:
                out.append(f"{c.name} ({h.host})" if many else c.name)
    out += [f"{c.name} (cluster)" for c in ev.cluster if c.status in ("warn", "fail") and not getattr(c, "commands", None)]
    return out


def fix_changes(ev: Any) -> list[Any]:
    """The fix commands of what warned or failed, as Changes (sparkpilot.changes)."""
    from sparkpilot.changes import Change

    return [Change(entry["host"], tuple(c["argv"]), description=c["check"])
            for entry in _fix_plan(ev) for c in entry["commands"]]


def _apply(ev: Any, args: argparse.Namespace, quiet: bool) -> bool:
    """Run the fix commands; print what each did. True when every one was done."""
    from dataclasses import replace

    from sparkpilot.changes import apply, failed

    changes = [replace(c, timeout=max(args.timeout, 60.0)) for c in fix_changes(ev)]
    results = apply(changes, timeout=args.timeout)
    out = sys.stderr if quiet else sys.stdout
    for r in results:
        what = r.change.command
        if r.outcome == "done":
            print(f"  {r.change.host}: done: {what}", file=out)
        elif r.outcome == "needs-sudo":
            print(f"  {r.change.host}: {r.detail}", file=out)
        elif r.outcome in ("unreachable", "skipped"):
            print(f"  {r.change.host}: {r.outcome}: {what}" + (f": {r.detail}" if r.detail else ""), file=out)
        else:
            print(f"  {r.change.host}: failed ({r.detail}): {what}", file=out)
    return not failed(results)
