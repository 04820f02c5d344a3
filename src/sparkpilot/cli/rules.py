"""`sparkpilot rules`: the SM121 lint rules (id, name, severity, what it checks)."""

from __future__ import annotations

import argparse

from sparkpilot.cli.common import add_format, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_format(parser)


def run(args: argparse.Namespace) -> int:
    from sparkpilot.knowledge import load  # noqa: PLC0415

    entries = load("rules")
    if args.format == "json":
        print_json({"rules": [{k: e.get(k) for k in ("id", "name", "severity", "severity_by_stack", "applies_to",
                                                      "summary", "fix", "evidence")} for e in entries]})
        return 0
    width = max(len(str(e["name"])) for e in entries)
    print(f"{'ID':<7} {'NAME':<{width}}  {'SEVERITY':<8}  CHECKS")
    for e in entries:
        sev = str(e.get("severity"))
        if e.get("severity_by_stack"):
            sev += "*"
        print(f"{e['id']:<7} {e['name']:<{width}}  {sev:<8}  {' '.join(str(e.get('summary', '')).split())}")
    print("\n* severity depends on the stack (see `sparkpilot explain NAME`). Details: `sparkpilot explain NAME-or-ID`.")
    return 0
