"""`sparkpilot status [NAME]`: per node, the deployment's state, model, phase, uptime, endpoint, memory."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sparkpilot.cli.common import add_format, print_json
from sparkpilot.cli.common_deploy import add_target, close, runners_for, target
from sparkpilot.transport.base import Runner

EXAMPLES = """\
  sparkpilot status                      every deployment this machine started
  sparkpilot status qwen3-32b --format json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target(parser)
    add_format(parser)


def node_status(node: str, runner: Runner, name: str | None) -> list[dict[str, Any]]:
    from sparkpilot.diagnosis import diagnose
    from sparkpilot.launcher import containers

    try:
        found = containers.ps(runner, name)
    except Exception as exc:  # noqa: BLE001 - one node's trouble is its row, not the end
        return [{"node": node, "state": "unknown", "error": str(exc)}]
    rows = []
    for c in found:
        row: dict[str, Any] = {"node": node, "deployment": c.labels.get("sparkpilot.deployment"),
                               "container": c.name, "state": c.state, "status": c.status,
                               "model": c.labels.get("sparkpilot.model"), "role": c.labels.get("sparkpilot.role"),
                               "port": c.labels.get("sparkpilot.port"), "phase": None, "memory": None}
        logs = runner.run(containers.logs_argv(c.name, follow=False, tail="3000"), timeout=30.0)
        if logs.rc == 0:
            d = diagnose(logs.stdout + logs.stderr)
            row["phase"] = "ready" if d.outcome == "ready" else (d.stopped_in or d.outcome)
            if d.failure is not None:
                row["failure"] = d.failure.cls
        if c.running:
            stats = runner.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", c.name], timeout=30.0)
            row["memory"] = stats.stdout.strip() or None
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    from sparkpilot.launcher import state, supervisor

    name, nodes = target(args, need_name=False)
    runners = runners_for(nodes)
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(runners))) as pool:
            rows = [r for rs in pool.map(lambda nr: node_status(nr[0], nr[1], name), runners) for r in rs]
    finally:
        close(runners)
    sups = {}
    for r in rows:   # a headless rank never logs "ready": it serves when its head does
        head = next((h for h in rows if h.get("deployment") == r.get("deployment") and h.get("role") == "head"), None)
        if r.get("role") == "worker" and r.get("state") == "running" and head and head.get("phase") == "ready" \
                and not r.get("failure"):
            r["phase"] = "ready (headless)"
    deps: set[str] = {str(r["deployment"]) for r in rows if r.get("deployment")} | ({name} if name else set())
    for dep in sorted(deps):
        data = state.load(dep) or {}
        sup = data.get("supervisor")
        sups[dep] = {**sup, "running": supervisor.alive(dep), "policy": data.get("restart")} if sup else None
        for r in rows:
            if r.get("deployment") == dep and r.get("role") == "head" and r.get("port"):
                host = next((h for n, h in nodes if n == r["node"]), r["node"])
                address = host.rsplit('@', 1)[-1].split(':')[0] if host != 'local' else '127.0.0.1'
                r["endpoint"] = f"http://{address}:{r['port']}/v1"
    if args.format == "json":
        print_json({"nodes": rows, "supervisors": sups})
        return 0
    if not rows:   # a supervisor that stopped (and said why) is still worth a line below
        print(f"{name or 'no deployment'}: no container on {', '.join(n for n, _ in nodes) or 'any node'}")
    else:
        cols = ("node", "deployment", "role", "state", "phase", "status", "memory", "endpoint")
        widths = {c: max(len(c), *(len(str(r.get(c) or "-")) for r in rows)) for c in cols}
        print("  ".join(c.upper().ljust(widths[c]) for c in cols))
        for r in rows:
            print("  ".join(str(r.get(c) or "-").ljust(widths[c]) for c in cols))
    for dep, sup in sups.items():
        if sup:
            word = "running" if sup["running"] else "not running"
            done = f"; {sup['restarts']} restart(s), the last: {sup['last_restart']}" if sup.get("restarts") else ""
            print(f"{dep}: supervisor {word} ({sup['kind']} {sup['unit']}, --restart {sup['policy']}{done})")
            if sup.get("stopped") and not sup["running"]:
                print(f"{dep}: supervisor stopped: {sup['stopped']}")
    return 0
