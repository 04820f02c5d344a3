"""`sparkpilot down NAME`: stop a deployment everywhere (its supervisor, then every container)."""

from __future__ import annotations

import argparse
import sys

from sparkpilot.cli.common import add_format, print_json
from sparkpilot.cli.common_deploy import add_target, close, runners_for, target

EXAMPLES = """\
  sparkpilot down qwen3-32b                              the nodes up used (remembered on this machine)
  sparkpilot down qwen3-32b --host me@spark-1 --host me@spark-2   look on these nodes
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target(parser)
    add_format(parser)


def run(args: argparse.Namespace) -> int:
    from sparkpilot.launcher import state, supervisor
    from sparkpilot.launcher.up import teardown

    name, nodes = target(args)
    assert name is not None
    pid = supervisor.stop(name)
    state.forget_token(name)   # the supervisor's HF_TOKEN file: nothing restarts any more
    runners = runners_for(nodes)
    try:
        events = list(teardown(name, runners))
    finally:
        close(runners)
    errors = [e for e in events if e.data.get("error")]
    if not errors:
        state.forget(name)
    if args.format == "json":
        print_json({"name": name, "supervisor_stopped": pid,
                    "nodes": [{"node": e.node, "removed": e.data.get("removed"), "error": e.data.get("error")}
                              for e in events]})
    else:
        if pid:
            print(f"{name}: supervisor {pid} stopped")
        for e in events:
            print(f"{name}: {e.node}: {e.message}")
        if not any(e.data.get("removed") for e in events) and not errors:
            print(f"{name}: nothing was running", file=sys.stderr)
    return 1 if errors else 0
