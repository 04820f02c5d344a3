"""`sparkpilot up MODEL-or-PLAN.json`: serve a model on 1..N Sparks, from what `plan` writes."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sparkpilot.errors import EXIT_INTERRUPTED, SparkpilotError, UsageError
from sparkpilot.transport.base import Runner

EXAMPLES = """\
  sparkpilot up Qwen/Qwen3-32B                           plan and serve on this machine
  sparkpilot plan MODEL --host me@spark-1 --host me@spark-2 --output plan.json
  sparkpilot up plan.json --host me@spark-1 --host me@spark-2   serve that plan on the pair
  sparkpilot up plan.json --host ... --dry-run           every step and command per node; nothing changes
  sparkpilot up plan.json --host ... --restart on-failure:3 --name qwen --port 8001
  sparkpilot up plan.json --host ... --format json       one event a line
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from sparkpilot.cli import plan

    plan.add_arguments(parser)   # MODEL, --host/--inventory and every plan option
    for action in parser._actions:
        if action.dest == "model":
            action.help = "a plan file (`sparkpilot plan ... --output plan.json`), a Hugging Face id or a local model folder"
    g = parser.add_argument_group("up")
    g.add_argument("--name", help="deployment name (default: from the model); labels every container")
    g.add_argument("--port", type=int, help="API port (default: the plan's, 8000)")
    g.add_argument("--dry-run", action="store_true", help="print every step and command per node; change nothing")
    g.add_argument("--force", action="store_true", help="start even when pre-flight finds errors")
    g.add_argument("--drop-caches", action="store_true",
                   help="drop the page cache (sudo -n) on nodes where it holds memory the plan needs")
    g.add_argument("--hang-timeout", type=float, metavar="S",
                   help="fail when a phase runs this long (default: 3x its expected time)")
    g.add_argument("--timeout", type=float, metavar="S", help="fail when not ready after this long")
    g.add_argument("--restart", metavar="POLICY", help="on-failure[:N]: a supervisor restarts the whole deployment")
    g.add_argument("--follow", action="store_true", help="stay attached to the logs once ready (Ctrl-C detaches)")
    g.add_argument("--no-smoke", action="store_true", help="skip the smoke chat (not recommended on FP4)")
    g.add_argument("--skip-preflight", action="store_true", help=argparse.SUPPRESS)
    g.add_argument("--verbose", "-v", action="store_true", help="show the nodes' log lines while starting")


def build_plan(args: argparse.Namespace) -> dict[str, Any]:
    """The plan as `sparkpilot plan` makes it (same options), or the plan file given."""
    from sparkpilot.cli import plan as plan_cli

    if args.model.endswith(".json") and os.path.isfile(args.model):
        from sparkpilot.launcher.deployment import load_plan

        return load_plan(args.model)
    for name in ("nodes", "tp", "pp", "max_model_len", "max_num_seqs", "max_num_batched_tokens", "memory_gib"):
        plan_cli._positive(name.replace("_", "-"), getattr(args, name))
    from sparkpilot.planner import plan

    info = plan_cli.resolve_model(args.model, args.offline)
    req = plan_cli.make_request(args, info)   # the very request `sparkpilot plan` makes (stack, Ray, hosts)
    data = plan(req, info).to_dict()
    if args.output:
        import json

        with open(args.output, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
    return data


def hosts_of(args: argparse.Namespace) -> list[str]:
    from sparkpilot import inventory

    if args.inventory:
        inv = inventory.load(args.inventory)
    elif args.host:
        inv = inventory.from_hosts(list(args.host))
    else:
        return []
    head = inv.head
    return [head.ssh] + [n.ssh for n in inv.nodes if n is not head]


class Connecting:
    """A runner per host, each opening its shared ssh connection in a thread from now on, while
    Python imports the launcher and reads the plan (a handshake is 0.1-0.5 s of every start).
    wait() joins them and raises the first host's failure (once, as its first command would)."""

    def __init__(self, hosts: list[str]):
        import threading

        from sparkpilot.transport import connect

        self.runners = {h: connect(h) for h in dict.fromkeys(hosts)}
        self.errors: dict[str, BaseException] = {}
        self.threads = [threading.Thread(target=self._open, args=(h, r), daemon=True, name=f"connect-{h}")
                        for h, r in self.runners.items() if hasattr(r, "connect")]
        for t in self.threads:
            t.start()

    def _open(self, host: str, runner: Any) -> None:
        try:
            runner.connect()
        except Exception as exc:  # noqa: BLE001 - said by wait(), in the main thread
            self.errors[host] = exc

    def wait(self) -> None:
        for t in self.threads:
            t.join()
        for exc in self.errors.values():
            raise exc

    def all(self, hosts: list[str]) -> dict[int, Any]:
        from sparkpilot.transport import connect

        self.wait()
        return {i: self.runners.get(h) or connect(h) for i, h in enumerate(hosts)}


def run(args: argparse.Namespace) -> int:
    if args.restart:
        from sparkpilot.launcher.supervisor import parse_policy

        parse_policy(args.restart)
    if args.port is not None and not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a port (1-65535)")
    for opt in ("hang_timeout", "timeout"):
        v = getattr(args, opt)
        if v is not None and not v > 0:
            raise UsageError(f"--{opt.replace('_', '-')} must be positive")
    hosts = hosts_of(args)
    connecting = Connecting(hosts)   # the ssh handshakes, while the rest is imported and the plan read
    from sparkpilot.launcher import state
    from sparkpilot.launcher.deployment import Deployment
    from sparkpilot.launcher.events import LaunchFailed
    from sparkpilot.launcher.up import Up, UpOptions
    from sparkpilot.ui.progress import renderer

    plan_data = build_plan(args)
    dep = Deployment.from_plan(plan_data, hosts, name=args.name, port=args.port)
    runners = connecting.all([n.host for n in dep.nodes])
    opts = UpOptions(dry_run=args.dry_run, force=args.force, drop_caches=args.drop_caches,
                     preflight=not args.skip_preflight, hang_timeout=args.hang_timeout,
                     ready_timeout=args.timeout, restart=args.restart, smoke=not args.no_smoke,
                     logs=args.verbose, stack=args.stack)
    out = renderer(args.format, sys.stdout, verbose=args.verbose)
    up = Up(dep, runners, opts)
    code = 0
    saved = False
    try:
        for ev in up.events():
            if ev.kind == "command" and not args.dry_run and not saved:   # about to start: remember where
                saved = True
                state.save(dep.name, {"name": dep.name, "plan": plan_data, "hosts": [n.host for n in dep.nodes],
                                      "port": dep.port, "ssh_config": os.environ.get("SPARKPILOT_SSH_CONFIG")})
            out.event(ev)
    except LaunchFailed as exc:
        out.close()
        if not up.launched:  # refused before anything started: the message is the error
            raise SparkpilotError(str(exc), exc.exit_code) from None
        code = exc.exit_code
    except KeyboardInterrupt:   # inside events() it tore down already; while an event was shown, not yet
        code = EXIT_INTERRUPTED
        try:
            for ev in up.interrupted():
                out.event(ev)
        except KeyboardInterrupt:
            pass
    finally:
        out.close()
        if code and saved:
            state.forget(dep.name)
    if code == EXIT_INTERRUPTED:
        _close(runners)
        return code
    if code == 0 and args.follow and not args.dry_run:
        from sparkpilot.cli.logs import follow

        try:
            follow(dep.name, [(n.name, runners[n.rank]) for n in dep.nodes], out=sys.stdout, since="0s")
        except KeyboardInterrupt:
            print(f"\ndetached; {dep.name} keeps serving (sparkpilot down {dep.name} stops it)", file=sys.stderr)
    _close(runners)
    return code


def _close(runners: dict[int, Runner]) -> None:
    for r in runners.values():
        try:
            r.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
