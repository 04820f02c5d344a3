"""sparkpilot report DIR: draw a flight recording (watch/exporter --record DIR) as PNG and HTML."""

from __future__ import annotations

import argparse

from sparkpilot.cli.common import add_format, print_json

EXAMPLES = """\
  sparkpilot report ~/spark-rec                 writes ~/spark-rec/report.png and report.html
  sparkpilot report ~/spark-rec --out /tmp/r    somewhere else
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the folder given to --record")
    parser.add_argument("--out", metavar="DIR", help="where to write report.png and report.html (default: DIR)")
    add_format(parser)


def run(args: argparse.Namespace) -> int:
    from sparkpilot.errors import UsageError

    try:
        import matplotlib  # noqa: F401 - only to say what is missing in one line
    except ImportError:
        raise UsageError("report needs matplotlib: pip install 'sparkpilot[monitor]'") from None
    from sparkpilot.monitor.report import write

    summary = write(args.dir, args.out)
    if args.format == "json":
        print_json(summary)
    else:
        print(f"{summary['samples']} samples from {', '.join(summary['nodes'])} over {summary['seconds']:.0f} s"
              + (f" ({summary['torn']} torn line skipped)" if summary["torn"] else ""))
        for a in summary["alerts"]:
            print(f"  alert {a['alert']} on {a['node']}: {a['first']} - {a['last']} UTC")
        print(f"wrote {summary['png']}\nwrote {summary['html']}")
    return 0
