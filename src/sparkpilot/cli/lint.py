"""`sparkpilot lint`: check a vLLM launch against the SM121 rules.

    sparkpilot lint -- vllm serve MODEL ...        a command
    sparkpilot lint -f launch.sh | recipe.yaml     a file (`-f -` or a pipe: stdin)
Exit 1 when any finding is an error, 0 otherwise, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys

from sparkpilot.cli.common import add_format
from sparkpilot.errors import EXIT_FINDINGS, EXIT_OK, UsageError

MAX_BYTES = 4 * 1024 * 1024


EXAMPLES = """\
  sparkpilot lint -- vllm serve openai/gpt-oss-120b --gpu-memory-utilization 0.95
  sparkpilot lint -f launch.sh --fix          print the launch with the fixes applied
  sparkpilot lint -f docker-compose.yml --stack ngc-26.04 --format json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--file", metavar="FILE", help="a launch file (shell script, docker run, compose, vLLM config, "
                        "Kubernetes, recipe); - for stdin")
    parser.add_argument("--nodes", type=int, metavar="N", help="how many Sparks the launch runs on (default: inferred)")
    parser.add_argument("--stack", metavar="NAME", help="judge for this stack (`sparkpilot rules --stacks`; default: "
                        "the launch's image, else ngc-26.04, the reference's stack)")
    parser.add_argument("--model-info", metavar="K=V,...", help="model facts: moe=true,quant=nvfp4,gpt_oss=false")
    hosts = parser.add_mutually_exclusive_group()
    hosts.add_argument("--host", action="append", metavar="H",
                       help="a Spark the launch runs on (repeat): its RoCEv2 GID index is read and checked against the launch")
    hosts.add_argument("--inventory", metavar="FILE", help="inventory YAML of the Sparks the launch runs on (as --host)")
    add_format(parser, extra=("sarif",))
    parser.add_argument("--fix", action="store_true", help="print the corrected launch, in the form it came in")
    parser.add_argument("--select", metavar="RULES", help="only these rules (names or ids, comma-separated)")
    parser.add_argument("--ignore", metavar="RULES", help="skip these rules (names or ids, comma-separated)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the launch, after --")


def _read(args: argparse.Namespace) -> tuple[str | bytes | list[str], str | None]:
    words = list(args.command or [])
    if words and words[0] == "--":
        words = words[1:]
    if args.file and words:
        raise UsageError("give either -f FILE or a command after --, not both")
    if args.file:
        if args.file == "-":
            return sys.stdin.buffer.read(MAX_BYTES + 1), None
        try:
            with open(args.file, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
        except IsADirectoryError:
            raise UsageError(f"{args.file}: is a directory, not a launch file") from None
        except OSError as exc:
            raise UsageError(f"{args.file}: {exc.strerror or exc}") from None
        if len(data) > MAX_BYTES:
            raise UsageError(f"{args.file}: larger than 4 MiB, not a launch file")
        return data, args.file
    if words:
        return words, None
    if not sys.stdin.isatty():
        return sys.stdin.buffer.read(MAX_BYTES + 1), None
    raise UsageError("nothing to lint: `sparkpilot lint -- vllm serve MODEL ...` or `sparkpilot lint -f FILE`")


def _rules_arg(text: str | None) -> list[str]:
    if not text:
        return []
    from sparkpilot.rules.registry import by_name_or_id

    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if by_name_or_id(part) is None:
            raise UsageError(f"unknown rule `{part}` (see `sparkpilot rules`)")
        out.append(part)
    return out


def run(args: argparse.Namespace) -> int:
    from sparkpilot.rules.lint import build_context, lint_launch, summary
    from sparkpilot.rules.modelfacts import parse_model_info
    from sparkpilot.vllm.parse import parse_argv, parse_text

    source, filename = _read(args)
    if isinstance(source, list):
        spec = parse_text(source[0]) if len(source) == 1 else parse_argv(source)
    else:
        spec = parse_text(source, filename)
    overrides = parse_model_info(args.model_info)
    select, ignore = _rules_arg(args.select), _rules_arg(args.ignore)
    gids = _host_gids(args)
    nodes = args.nodes or (len(gids) if len(gids) > 1 else None)
    ctx = build_context(spec, nodes=nodes, stack=args.stack, model_info=overrides or None)
    ctx.host_gids = gids
    findings = lint_launch(spec, context=ctx, select=select, ignore=ignore)
    if args.fix:
        return _fix(spec, findings, args, filename, select, ignore)
    if args.format == "json":
        _print_masked({"findings": [f.to_dict() for f in findings], "summary": summary(findings, ctx)})
    elif args.format == "sarif":
        from sparkpilot.rules.sarif import sarif

        _print_masked(sarif(findings, filename))
    else:
        _text(findings, ctx, summary(findings, ctx))
    return EXIT_FINDINGS if any(f.severity == "error" for f in findings) else EXIT_OK


def _host_gids(args: argparse.Namespace) -> dict[str, set[int]]:
    """Each --host / --inventory node's RoCEv2 + IPv4 GID indexes, read as doctor reads them."""
    if not (getattr(args, "host", None) or getattr(args, "inventory", None)):
        return {}
    from sparkpilot import facts as facts_mod
    from sparkpilot import interconnect, inventory
    from sparkpilot.errors import SparkpilotError

    inv = inventory.load(args.inventory) if args.inventory else inventory.from_hosts(list(args.host))
    cluster = facts_mod.collect(inv, ping=False)
    down = [h for h in cluster.hosts if not h.reachable]
    if down:
        raise SparkpilotError(f"host {down[0].host} not reachable: {down[0].reason}", EXIT_FINDINGS)
    out = {}
    for h in cluster.hosts:
        net = interconnect.node_net(h)
        out[h.name or h.host] = {d.gid_index for d in net.up_devices if d.gid_index is not None}
    return out


def _print_masked(data) -> None:
    import json

    from sparkpilot.secrets import mask_secrets

    sys.stdout.write(mask_secrets(json.dumps(data, indent=2, ensure_ascii=False, default=str)) + "\n")


def _text(findings, ctx, summ) -> None:
    from sparkpilot.secrets import mask_secrets

    for f in findings:
        where = f.location or "launch"
        print(mask_secrets(f"{where}: {f.severity}: {f.rule} [{f.id}] {f.message}"))
    counts = ", ".join(f"{summ[s]} {s}{'s' if summ[s] != 1 and s != 'info' else ''}" for s in ("error", "warning", "info"))
    if not findings:
        counts = "no findings"
    st = summ["stack"]
    lc = summ["launch"]
    model = summ["model"]
    facts = ", ".join(f"{k}={v}" for k, v in (("moe", model["moe"]), ("quant", model["quant"]),
                                              ("gpt_oss", model["gpt_oss"])) if v is not None) or "unknown"
    print(f"{counts or 'no findings'} | stack {st['name']} ({st['chosen_by']}; flags of vLLM "
          f"{st['flags_checked_against']}) | {lc['nodes']} node{'s' if lc['nodes'] != 1 else ''}"
          f" ({lc['nodes_from']}) | "
          + (f"model {lc['model']}: {facts}" if lc["model"]
             else "no model (no vLLM command)" if lc["kind"] == "cluster" else "no model given"))
    for note in summ["notes"]:
        print(mask_secrets(f"note: {note}"))


def _fix(spec, findings, args, filename, select, ignore) -> int:
    from sparkpilot.rules.lint import build_context, lint_launch
    from sparkpilot.rules.modelfacts import parse_model_info
    from sparkpilot.secrets import mask_secrets
    from sparkpilot.vllm import fix
    from sparkpilot.vllm.parse import parse_text

    edits = [e for f in findings for e in f.edits]
    text = fix.apply(spec, edits)
    if not text.endswith("\n"):
        text += "\n"
    shown = mask_secrets(text)
    sys.stdout.write(shown)
    again = parse_text(text, filename)
    ctx = build_context(again, nodes=args.nodes, stack=args.stack,
                        model_info=parse_model_info(args.model_info) or None)
    left = lint_launch(again, context=ctx, select=select, ignore=ignore)
    still = {f.rule: f.location for f in left if f.rule in {g.rule for g in findings if g.edits}}
    fixed = sorted({f.rule for f in findings if f.edits} - set(still))
    unfixed = sorted({f.rule for f in findings if not f.edits} - set(still))
    if fixed:
        print(f"fixed: {', '.join(fixed)}", file=sys.stderr)
    if still:
        print("still there after the fix (set outside this launch, e.g. in a --config file): "
              + ", ".join(f"{r} ({loc or 'launch'})" for r, loc in sorted(still.items())), file=sys.stderr)
    if unfixed:
        print(f"not fixed automatically (see the messages): {', '.join(unfixed)}", file=sys.stderr)
    if any(e.name == "NCCL_IB_GID_INDEX" for e in edits):
        print("check: NCCL_IB_GID_INDEX=3 is the reference's value; confirm it on each node with "
              "`show_gids | grep <QSFP interface>` or `sparkpilot doctor`", file=sys.stderr)
    cluster_vars = sorted({e.name for e in edits if e.op == "set_env"
                           and (e.name.startswith(("NCCL_", "RAY_")))})
    if cluster_vars and spec.source_kind in ("command", "script"):
        print(f"note: {', '.join(cluster_vars)} must reach every node: put them in each node's container "
              "environment before `ray start` (e.g. run_cluster.sh -e VAR=...); on the vLLM command they reach "
              "this process only", file=sys.stderr)
    if text != shown:
        print("note: secret values are masked in the output (***)", file=sys.stderr)
    return EXIT_FINDINGS if any(f.severity == "error" for f in left) else EXIT_OK
