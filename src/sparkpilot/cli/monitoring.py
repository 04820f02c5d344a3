"""What `watch` and `exporter` share: the host options, the collector over those hosts, the recorder."""

from __future__ import annotations

import argparse
from typing import Any

from sparkpilot.errors import UsageError


def add_hosts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", action="append", metavar="HOST",
                        help="local (default), user@host[:port]; repeat for several nodes, the first is head")
    parser.add_argument("--inventory", metavar="FILE", help="YAML inventory: nodes and roles")
    parser.add_argument("--interval", type=float, default=1.0, metavar="S", help="seconds between samples (default 1)")
    parser.add_argument("--vllm-port", type=int, default=8000, metavar="PORT",
                        help="the port of each node's vLLM server, read on the node (default 8000; 0: none)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="ssh connection timeout (default 10)")
    parser.add_argument("--record", metavar="DIR", help="flight recorder: append every sample to DIR (synced, rotated)")
    parser.add_argument("--record-on-nodes", metavar="NODE_DIR",
                        help="each node also keeps its own flight recording in NODE_DIR on the node (synced per "
                             "frame, rotated); copy it to DIR/NODE and run `sparkpilot report DIR`")
    parser.add_argument("--record-max-mb", type=float, default=256.0, metavar="MB",
                        help="the recording's size bound; oldest segments go first (default 256)")


def targets(args: argparse.Namespace) -> list[Any]:
    from sparkpilot import inventory
    from sparkpilot.monitor.collector import NodeTarget
    from sparkpilot.transport import connect

    if args.inventory and args.host:
        raise UsageError("give --inventory or --host, not both")
    if not 0.1 <= args.interval <= 3600:
        raise UsageError("--interval must be between 0.1 and 3600 seconds")
    if args.vllm_port and not 0 < args.vllm_port < 65536:
        raise UsageError("--vllm-port must be 1-65535 (0: no vLLM)")
    inv = inventory.load(args.inventory) if args.inventory else inventory.from_hosts(args.host)
    out = []
    for n in inv.nodes:
        if n.ssh.startswith("replay://"):
            raise UsageError(f"{n.ssh}: a recorded host has no live samples to watch; give a real host or an inventory")
        out.append(NodeTarget(n.name, n.role, connect(n.ssh, timeout=args.timeout), args.vllm_port or None))
    return out


def collector(args: argparse.Namespace):
    from sparkpilot.monitor.collector import Collector

    if args.record_max_mb <= 0:
        raise UsageError("--record-max-mb must be above 0")
    if args.record_on_nodes is not None and (not args.record_on_nodes.strip() or "\n" in args.record_on_nodes):
        raise UsageError("--record-on-nodes needs a folder path on the nodes")
    c = Collector(targets(args), interval=args.interval, record_on_nodes=args.record_on_nodes,
                  record_max_bytes=int(args.record_max_mb * 1024 * 1024))
    if args.record:
        from sparkpilot.monitor.recorder import Recorder

        try:
            rec = Recorder(args.record, max_bytes=int(args.record_max_mb * 1024 * 1024))
        except OSError as exc:
            raise UsageError(f"--record {args.record}: {exc.strerror or exc}") from None

        def write(sample, alerts) -> None:
            record = sample.to_record()
            record["alerts"] = [{"id": a.id, "name": a.name, "severity": a.severity} for a in alerts]
            rec.write(record)

        c.listeners.append(write)
        c.recorder = rec  # type: ignore[attr-defined]
    return c


def close(c: Any) -> None:
    c.stop()
    rec = getattr(c, "recorder", None)
    if rec is not None:
        rec.close()
    for t in c.targets:
        try:
            t.runner.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
