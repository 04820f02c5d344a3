"""`sparkpilot explain NAME-or-ID`: what a lint rule, doctor check or failure class checks, why it
matters on a Spark, an example, the fix and the evidence."""

from __future__ import annotations

import argparse
import textwrap

from sparkpilot.cli.common import add_format, print_json
from sparkpilot.errors import UsageError

KIND_TITLE = {"rules": "lint rule", "checks": "doctor check", "failures": "failure class"}


EXAMPLES = """\
  sparkpilot explain enforce-eager
  sparkpilot explain SPL004
  sparkpilot explain oom_at_startup
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="a rule / check / failure name or id, e.g. enforce-eager or SPL002")
    add_format(parser)


# the labels of the shared data (CONTRACTS.md, "Data labels -> names") and flag spellings people type
LABELS = {
    "gpu_memory_utilization_above_0.90": "gpu-memory-utilization",
    "cutlass_fp4_quant": "cutlass-fp4",
    "mxfp4_on_non_gpt_oss": "mxfp4-non-gpt-oss",
    "missing_ray_memory_monitor_env": "ray-memory-monitor",
    "missing_nccl_ib_gid_index": "nccl-gid-index",
    "tp_gt_1_without_ray": "tp-needs-cluster",
    "moe_backend_not_marlin": "moe-backend",
    "kv_cache_insufficient_for_max_model_len": "max_model_len_too_long",
}


def _find(find, name: str):
    """A name as written, then without `--` / `other:` and with `_` and `-` swapped (enforce_eager,
    --enforce-eager, page_cache), then a data label."""
    hit = find(name)
    if hit is not None:
        return hit
    bare = name.strip().lstrip("-")
    bare = bare[len("other:"):] if bare.lower().startswith("other:") else bare
    for candidate in (bare, bare.replace("_", "-"), bare.replace("-", "_"), LABELS.get(bare.lower(), "")):
        if candidate and (hit := find(candidate)) is not None:
            return hit
    return None


def run(args: argparse.Namespace) -> int:
    from sparkpilot.knowledge import all_names, find

    hit = _find(find, args.name)
    if hit is None:
        import difflib

        close = difflib.get_close_matches(args.name.lower(), [n.lower() for n in all_names()], n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise UsageError(f"nothing called `{args.name}`{hint}; see `sparkpilot rules`")
    kind, entry = hit
    if args.format == "json":
        print_json({"kind": KIND_TITLE.get(kind, kind), **entry})
        return 0
    print(f"{entry.get('id', '')} {entry.get('name', '')} ({KIND_TITLE.get(kind, kind)}, "
          f"{entry.get('severity', entry.get('default_severity', ''))})")
    sections = [("What it checks", entry.get("summary") or entry.get("description") or entry.get("message")),
                ("Why on a Spark", entry.get("why")),
                ("Applies to", _applies(entry)),
                ("Example", _example(entry.get("example"))),
                ("Fix", entry.get("fix")),
                ("Raised by", entry.get("source_code")),
                ("Evidence", entry.get("evidence"))]
    for title, body in sections:
        if not body:
            continue
        print(f"\n{title}:")
        if title == "Example":
            print(body)
        elif title == "Raised by" and isinstance(body, list):
            for item in body:                    # failure classes: the code that prints the message
                print(f"  - {item.get('repo')} {item.get('file')} ({item.get('version')})")
                print(textwrap.fill(" ".join(str(item.get("text", "")).split()), width=100,
                                    initial_indent="    ", subsequent_indent="    ",
                                    break_on_hyphens=False, break_long_words=False))
        elif title == "Evidence" and isinstance(body, list):
            for item in body:                    # failure classes: real log lines with their sources
                if isinstance(item, dict):
                    print(textwrap.fill(" ".join(str(item.get("line", "")).split()), width=100,
                                        initial_indent="  - ", subsequent_indent="    ",
                                        break_on_hyphens=False, break_long_words=False))
                    if item.get("source"):
                        print(f"    source: {item['source']}")
                else:
                    print(f"  - {item}")
        else:
            print(textwrap.fill(" ".join(str(body).split()), width=100, initial_indent="  ", subsequent_indent="  ",
                                break_on_hyphens=False, break_long_words=False))
    return 0


def _applies(entry: dict) -> str | None:
    a = entry.get("applies_to")
    if not a:
        return None
    parts = [f"{k}: {v}" for k, v in a.items()] if isinstance(a, dict) else [str(a)]
    if entry.get("severity_by_stack"):
        parts.append("severity by stack: " + ", ".join(f"{k}={v}" for k, v in entry["severity_by_stack"].items()))
    return "; ".join(parts)


def _example(ex) -> str | None:
    if not ex:
        return None
    if isinstance(ex, dict):
        return "\n".join(f"  {k}: {v}" for k, v in ex.items())
    return f"  {ex}"
