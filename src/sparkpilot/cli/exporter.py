"""sparkpilot exporter: the watch's metrics on a Prometheus endpoint (prometheus_client), plus the
Grafana dashboard and the Prometheus alerting rules built on them."""

from __future__ import annotations

import argparse
import sys

from sparkpilot.cli.monitoring import add_hosts, close, collector
from sparkpilot.errors import UsageError

EXAMPLES = """\
  sparkpilot exporter --host user@spark-1 --host user@spark-2          http://0.0.0.0:9469/metrics
  sparkpilot exporter --inventory cluster.yaml --port 9500 --record ~/spark-rec
  sparkpilot exporter --rules > sparkpilot-rules.yml                   alerting rules (Prometheus rule_files)
  sparkpilot exporter --dashboard > sparkpilot-grafana.json            Grafana dashboard (import it)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from sparkpilot.monitor.exporter import DEFAULT_PORT

    add_hosts(parser)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})")
    parser.add_argument("--listen", default="0.0.0.0", metavar="ADDR", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--rules", action="store_true", help="print the Prometheus alerting rules and exit")
    parser.add_argument("--dashboard", action="store_true", help="print the Grafana dashboard JSON and exit")


def run(args: argparse.Namespace) -> int:
    if args.rules:
        from sparkpilot.monitor.grafana import rules_yaml

        sys.stdout.write(rules_yaml())
        return 0
    if args.dashboard:
        from sparkpilot.monitor.grafana import dashboard_json

        sys.stdout.write(dashboard_json())
        return 0
    if not 0 < args.port < 65536:
        raise UsageError("--port must be 1-65535")
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise UsageError("the exporter needs prometheus_client: pip install 'sparkpilot[monitor]'") from None
    from sparkpilot.monitor.exporter import serve

    c = collector(args)
    try:
        try:
            serve(c, args.port, args.listen)
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.listen}:{args.port}: {exc.strerror or exc}") from None
        c.start()
        print(f"sparkpilot exporter: http://{args.listen}:{args.port}/metrics "
              f"({len(c.targets)} node{'s' if len(c.targets) != 1 else ''}, every {args.interval:g}s)",
              file=sys.stderr, flush=True)
        import threading

        threading.Event().wait()
    except KeyboardInterrupt:
        return 130
    finally:
        close(c)
    return 0
