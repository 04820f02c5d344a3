"""sparkpilot watch: every Spark and its vLLM on one screen, GB10 read right.
(--once waits for two frames: the first gives rates nothing to compare with, and nvidia-smi's own
loop has not written its first line yet.)

One streamed sampler per node over a kept-open ssh connection; alerts from knowledge/monitor.yaml.
`--once` takes one sample per node and exits 1 when an alert fires.
"""

from __future__ import annotations

import argparse
import sys

from sparkpilot.cli.common import add_format, print_json
from sparkpilot.cli.monitoring import add_hosts, close, collector
from sparkpilot.errors import EXIT_OK

EXAMPLES = """\
  sparkpilot watch                                        this machine
  sparkpilot watch --host user@spark-1 --host user@spark-2
  sparkpilot watch --inventory cluster.yaml --record ~/spark-rec   flight recorder (then: sparkpilot report ~/spark-rec)
  sparkpilot watch --once --format json                   one sample per node; exit 1 when an alert fires
  keys: q quit, v next view (nodes / processes / alerts / links)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_hosts(parser)
    parser.add_argument("--once", action="store_true", help="one sample per node, print it and exit (1 on alert)")
    parser.add_argument("--headless", action="store_true",
                        help="no screen: sample (and --record) until interrupted; alerts are printed as they start")
    add_format(parser)


def run(args: argparse.Namespace) -> int:
    c = collector(args)
    try:
        c.start()
        if args.once:
            return _once(c, args)
        if args.headless or not sys.stdout.isatty():
            return _headless(c)
        from sparkpilot.ui.watch import run_dashboard

        return run_dashboard(c)
    finally:
        close(c)


def _once(c, args: argparse.Namespace) -> int:
    c.wait(samples=2, timeout=max(args.timeout * 2 + 10, args.interval * 3 + 5))
    from sparkpilot.monitor.thresholds import evaluate

    latest = c.latest
    alerts = {n: evaluate(c.history(n), instant=True) for n in latest}
    nodes = []
    for t in c.targets:
        st = c.state[t.name]
        rec = latest[t.name].to_record() if t.name in latest else {"node": t.name, "role": t.role}
        rec["status"] = st.status if t.name in latest else (st.status if st.status.startswith("lost") else
                                                            "lost: no sample in time")
        rec["alerts"] = [a.to_dict() for a in alerts.get(t.name, [])]
        nodes.append(rec)
    firing = sum(len(n["alerts"]) for n in nodes)
    down = sum(1 for n in nodes if n["status"] != "streaming")
    if args.format == "json":
        print_json({"nodes": nodes, "summary": {"nodes": len(nodes), "alerts": firing, "unreachable": down}})
    else:
        from sparkpilot.ui.watch import text_summary

        print(text_summary(c, alerts))
    return 1 if firing or down else EXIT_OK


def _headless(c) -> int:
    import time

    shown: set[tuple[str, str]] = set()
    try:
        while True:
            time.sleep(1.0)
            now = set()
            for node, alerts in c.alerts.items():
                for a in alerts:
                    now.add((node, a.name))
                    if (node, a.name) not in shown:
                        print(f"{node}: {a.severity}: {a.message} -- fix: {a.fix}", flush=True)
            shown = now
    except KeyboardInterrupt:
        return 130
