"""`sparkpilot rules`: the SM121 lint rules (id, name, severity, what it checks)."""

from __future__ import annotations

import argparse

from sparkpilot.cli.common import add_format, print_json


EXAMPLES = """\
  sparkpilot rules
  sparkpilot rules --stacks
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stacks", action="store_true", help="list the stacks `lint --stack` knows instead")
    add_format(parser)


def _stacks(args: argparse.Namespace) -> int:
    from sparkpilot.rules import stacks

    rows = stacks.all_stacks()
    if args.format == "json":
        print_json({"default": stacks.default_name(), "stacks": rows})
        return 0
    width = max(len(s["name"]) for s in rows)
    print(f"{'STACK':<{width}}  {'VLLM':<8}  {'NCCL':<8}  {'RAY':<7}  IMAGE")
    for s in rows:
        mark = " (default)" if s["name"] == stacks.default_name() else ""
        ray = stacks.has_ray(s)
        ray_text = "by tag" if ray is None and s.get("ray_from_vllm") else \
            "detect" if ray is None else "yes" if ray else "no"
        print(f"{s['name']:<{width}}  {s.get('vllm') or '-'!s:<8}  {s.get('nccl') or '-'!s:<8}  {ray_text:<7}  "
              f"{s.get('image')}{mark}")
    print("(NCCL and Ray with their sources: knowledge/stacks.yaml; `detect`: plan --host tries `import ray` in the image)")
    return 0


def run(args: argparse.Namespace) -> int:
    from sparkpilot.knowledge import load

    if args.stacks:
        return _stacks(args)
    entries = load("rules")
    if args.format == "json":
        print_json({"rules": [{k: e.get(k) for k in ("id", "name", "severity", "severity_by_stack", "applies_to",
                                                      "summary", "fix", "evidence")} for e in entries]})
        return 0
    from sparkpilot.rules.stacks import default_name

    default = default_name()
    width = max(len(str(e["name"])) for e in entries)
    print(f"{'ID':<7} {'NAME':<{width}}  {'SEVERITY':<8}  CHECKS")
    for e in entries:
        by_stack = e.get("severity_by_stack") or {}
        sev = str(by_stack.get(default, e.get("severity")))
        if by_stack:
            sev += "*"
        print(f"{e['id']:<7} {e['name']:<{width}}  {sev:<8}  {' '.join(str(e.get('summary', '')).split())}")
    print(f"\nSeverity on the default stack ({default}); * it differs on other stacks (`sparkpilot explain NAME`, "
          "`sparkpilot rules --stacks`). Details: `sparkpilot explain NAME-or-ID`.")
    return 0
