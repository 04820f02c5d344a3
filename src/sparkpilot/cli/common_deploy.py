"""What down / status / logs share: which deployment, on which nodes."""

from __future__ import annotations

import argparse
from typing import Any

from sparkpilot.errors import UsageError
from sparkpilot.transport.base import Runner


def add_target(parser: argparse.ArgumentParser, name_required: bool = False) -> None:
    parser.add_argument("name", nargs=None if name_required else "?",
                        help="deployment name (default: the only one this machine started)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--host", action="append", metavar="H", help="a node to look on (repeat)")
    where.add_argument("--inventory", metavar="FILE", help="inventory YAML of the nodes")


def target(args: argparse.Namespace, need_name: bool = True) -> tuple[str | None, list[tuple[str, str]]]:
    """(deployment name, [(node name, host spec)]) from the arguments or this machine's state."""
    from sparkpilot import inventory
    from sparkpilot.launcher import state

    name = args.name
    known = state.names()
    if name is None and need_name:
        if len(known) == 1:
            name = known[0]
        elif not known:
            raise UsageError("no deployment started from this machine: give NAME and --host per node")
        else:
            raise UsageError(f"several deployments: give one of {', '.join(known)}")
    if args.inventory or args.host:
        inv = inventory.load(args.inventory) if args.inventory else inventory.from_hosts(list(args.host))
        return name, [(n.name, n.ssh) for n in inv.nodes]
    data = state.load(name) if name else None
    if data:
        names = [n.get("name") for n in (data.get("plan", {}).get("launch") or {}).get("nodes", [])]
        hosts = data.get("hosts") or []
        return name, [(names[i] if i < len(names) and names[i] else h, h) for i, h in enumerate(hosts)]
    if name and name not in known:
        raise UsageError(f"no deployment {name!r} started from this machine: give --host per node to look for it")
    nodes: list[tuple[str, str]] = []
    for n in known:   # status without a name: every deployment's nodes, by their plan's names
        d = state.load(n) or {}
        names = [x.get("name") for x in (d.get("plan", {}).get("launch") or {}).get("nodes", [])]
        for i, h in enumerate(d.get("hosts") or []):
            if h not in [x[1] for x in nodes]:
                nodes.append((names[i] if i < len(names) and names[i] else h, h))
    return name, nodes


def runners_for(nodes: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    from sparkpilot.transport import connect

    return [(n, connect(h)) for n, h in nodes]


def close(runners: list[tuple[str, Runner]]) -> None:
    for _, r in runners:
        try:
            r.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
