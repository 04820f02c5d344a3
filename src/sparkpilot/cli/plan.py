"""`sparkpilot plan MODEL`: memory, KV cache, flags and start-up time on 1..N Sparks."""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
from typing import Any

from sparkpilot.cli.common import add_format, print_json
from sparkpilot.errors import EXIT_FINDINGS, SparkpilotError, UsageError


EXAMPLES = """\
  sparkpilot plan openai/gpt-oss-120b                      does it fit on one Spark, and the launch
  sparkpilot plan Qwen/Qwen3-235B-A22B-GPTQ-Int4 --nodes 2  two Sparks (TP=2, Ray), placeholders marked
  sparkpilot plan MODEL --host user@spark-1 --host user@spark-2   read both hosts' RoCE facts
  sparkpilot plan MODEL --max-model-len 32768 --format json --output plan.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="Hugging Face id (e.g. openai/gpt-oss-120b) or a local model folder")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--nodes", type=int, help="number of Sparks (with --memory-gib: number of GPUs)")
    where.add_argument("--inventory", metavar="FILE", help="inventory YAML: plan for these hosts (reads their facts)")
    where.add_argument("--host", action="append", metavar="H", help="a host to plan for (repeat; the first is head)")
    parser.add_argument("--tp", type=int, help="tensor parallel size (default: number of Sparks)")
    parser.add_argument("--pp", type=int, help="pipeline parallel size (default: 1, or when heads do not divide)")
    parser.add_argument("--executor", choices=("ray", "native"), help="multi-node executor (default: ray)")
    parser.add_argument("--max-model-len", type=int, metavar="L",
                        help="context length (default: the model's, or the largest that fits)")
    parser.add_argument("--gpu-memory-utilization", type=float, metavar="U",
                        help="share of memory vLLM may use (default 0.87; 0.85 from 64K, 0.83 from 256K; never above 0.90)")
    parser.add_argument("--kv-cache-dtype", metavar="DTYPE", help="auto, fp8, fp8_e4m3, fp8_e5m2 ... (default: fp8)")
    parser.add_argument("--max-num-seqs", type=int, metavar="S",
                        help="most requests at once (default: vLLM's for this memory size)")
    parser.add_argument("--max-num-batched-tokens", type=int, metavar="B",
                        help="tokens per scheduler step; sets the activation peak (default: vLLM's)")
    parser.add_argument("--quantization", metavar="Q", help="override the checkpoint's quantisation")
    parser.add_argument("--speculative-tokens", type=int, default=0, metavar="N",
                        help="MTP speculative decoding with N draft tokens (models with MTP layers)")
    parser.add_argument("--memory-gib", type=float, metavar="G",
                        help="plan for another GPU: its total memory as CUDA reports it (GiB)")
    parser.add_argument("--image", help="container image (default: nvcr.io/nvidia/vllm:26.04-py3 or the stack's)")
    parser.add_argument("--stack", metavar="NAME", help="stack (image / vLLM) the plan is made and linted for")
    parser.add_argument("--offline", action="store_true", help="never use the network (catalog and local folders only)")
    parser.add_argument("--output", metavar="FILE", help="also write the plan JSON to FILE")
    add_format(parser)


# upper bounds: a typo (an extra zero, 1e30) is bad input, not a plan (and must never hang)
LIMITS = {"nodes": 256, "tp": 256, "pp": 256, "max_model_len": 2**31 - 1, "max_num_seqs": 2**31 - 1,
          "max_num_batched_tokens": 2**31 - 1, "memory_gib": 16384, "speculative_tokens": 64}


def _positive(name: str, value: int | float | None) -> None:
    if value is None:
        return
    if math.isnan(value) or math.isinf(value):
        raise UsageError(f"--{name} must be a number, not {value}")
    if value <= 0:
        raise UsageError(f"--{name} must be positive, not {value}")
    limit = LIMITS.get(name.replace("-", "_"))
    if limit is not None and value > limit:
        shown = value if isinstance(value, int) else f"{value:g}"
        raise UsageError(f"--{name} {shown} is too large (at most {limit:,})")


def _check_quantization(value: str | None, stack: str | None) -> None:
    """--quantization must be a method the stack's vLLM knows (vLLM refuses others at start)."""
    if not value:
        return
    from sparkpilot.vllm import flags

    try:
        info = flags.load(stack).get("--quantization")
    except Exception:  # noqa: BLE001 - no table: nothing to check against
        return
    choices = [str(c) for c in (getattr(info, "choices", None) or ())]
    if choices and value not in choices:
        import difflib

        close = difflib.get_close_matches(value, choices, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"one of {', '.join(choices)}"
        raise UsageError(f"unknown --quantization {value!r} ({hint})")


def resolve_model(model: str, offline: bool):
    try:
        from sparkpilot import models
        resolve = models.resolve
    except (ImportError, AttributeError):
        raise SparkpilotError("the model catalog (sparkpilot.models.resolve) is not installed", 3) from None
    try:
        return resolve(model, offline=offline)
    except SparkpilotError:
        raise
    except (KeyError, LookupError, FileNotFoundError, ValueError) as exc:
        close = []
        try:
            close = [getattr(c, "id", c) for c in models.closest(model)][:3]
        except Exception:  # noqa: BLE001 - the hint is optional
            pass
        hint = f"; closest catalog entries: {', '.join(close)}" if close else ""
        raise UsageError(f"unknown model {model!r}{' offline' if offline else ''}{hint}") from exc


def make_request(args, info) -> Any:
    """The PlanRequest of `sparkpilot plan` (and `up`, which runs exactly what plan writes) from the
    command's options, reading the hosts' facts when --host / --inventory are given."""
    from sparkpilot.planner import PlanRequest

    from sparkpilot.planner.hosts import read_hosts, stack_facts

    stack_image, vllm_version = stack_facts(args.stack)
    nodes = read_hosts(args.inventory, args.host, getattr(args, "image", None), stack_image)
    names, nets, inv_image, mems, ray = nodes.names, nodes.nets, nodes.image, nodes.memory, nodes.ray
    local = os.path.abspath(args.model) if os.path.isdir(args.model) else None
    return PlanRequest(
        model=args.model, nodes=args.nodes or (len(names) or None), tp=args.tp, pp=args.pp,
        executor=args.executor, max_model_len=args.max_model_len,
        gpu_memory_utilization=args.gpu_memory_utilization, kv_cache_dtype=args.kv_cache_dtype,
        max_num_seqs=args.max_num_seqs, max_num_batched_tokens=args.max_num_batched_tokens,
        quantization=args.quantization, memory_gib=args.memory_gib,
        image=args.image or inv_image or stack_image, node_names=names, node_nets=nets,
        vllm_version=vllm_version, local_path=local, node_memory=mems,
        speculative_tokens=args.speculative_tokens, stack=args.stack, ray_detected=ray)


def run(args: argparse.Namespace) -> int:
    for name in ("nodes", "tp", "pp", "max_model_len", "max_num_seqs", "max_num_batched_tokens", "memory_gib"):
        _positive(name.replace("_", "-"), getattr(args, name))
    if args.speculative_tokens and args.speculative_tokens > LIMITS["speculative_tokens"]:
        raise UsageError(f"--speculative-tokens {args.speculative_tokens} is too large (at most {LIMITS['speculative_tokens']})")
    _check_quantization(args.quantization, args.stack)
    from sparkpilot.planner import plan

    info = resolve_model(args.model, args.offline)
    result = plan(make_request(args, info), info)
    refused = launch_lint_errors(result, info, args.stack)
    data = result.to_dict()
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2)
                fh.write("\n")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    if args.format == "json":
        print_json(data)
    else:
        sys.stdout.write(render_text(result, unit="GPU" if args.memory_gib else "Spark"))
    if refused:   # plan writes only what the stack's vLLM takes; should lint still object, it is not a valid launch
        where = f"--stack {args.stack}" if args.stack else "this image"
        print(f"sparkpilot: error: the launch does not lint clean for {where}: " + "; ".join(refused[:3]),
              file=sys.stderr)
        return EXIT_FINDINGS
    return 0 if result.fits else EXIT_FINDINGS


def launch_lint_errors(result, info, stack: str | None) -> list[str]:
    """Error findings of lint on the plan's own launch (e.g. flags an old stack's vLLM lacks)."""
    if result.launch is None:
        return []
    from sparkpilot.rules.lint import lint_launch

    found = lint_launch(result.launch, nodes=result.nodes, stack=stack, model_info=info)
    return [f"{f.rule}: {f.message}" for f in found if f.severity == "error"]


def shell_line(argv: list[str]) -> str:
    """argv as one shell line; $HOME paths stay expandable, everything else is quoted."""
    out = []
    for arg in argv:
        if arg.startswith("$HOME/") and not any(c in arg for c in "\"`\\ '"):
            out.append(f'"{arg}"')
        else:
            out.append(shlex.quote(arg))
    return " ".join(out)


def wrapped(argv: list[str]) -> list[str]:
    """A long command as shell lines joined by `\\`, one option (with its value) a line; the image and
    the command inside the container start lines of their own."""
    words = [shell_line([a]) for a in argv]
    if len(" ".join(words)) <= 100:
        return [" ".join(words)]
    groups: list[list[str]] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and "=" not in a and i + 1 < len(argv) and not argv[i + 1].startswith("-") \
                and a not in BARE_OPTIONS:
            groups.append([words[i], words[i + 1]])
            i += 2
            continue
        if not a.startswith("-") and groups and not groups[-1][0].startswith("-") and \
                len(groups[-1]) < 3 and groups[-1][0] in ("docker", "vllm", "bash"):
            groups[-1].append(words[i])     # `docker run`, `vllm serve MODEL`, `bash -c ...`
        else:
            groups.append([words[i]])
        i += 1
    out, indent = [], ""
    for n, g in enumerate(groups):
        out.append((indent if n else "") + " ".join(g))
        indent = "      " if g[0] in ("vllm", "bash") and n else indent or "    "
    return [t + " \\" if n < len(out) - 1 else t for n, t in enumerate(out)]


# options that take no value (docker run's and vLLM's flags a plan writes)
BARE_OPTIONS = {"-d", "--rm", "-it", "-t", "-i", "--privileged", "--headless", "--trust-remote-code",
                "--enforce-eager", "--enable-prefix-caching"}


def _placeholders_by_node(launch, env_missing: list[str]) -> list[str]:
    """`node: VAR, VAR` per node: the environment placeholders and any <NAME> left in the command
    (a worker's <HEAD_IP>)."""
    import re

    names: dict[str, list[str]] = {n.name: [] for n in launch.nodes}
    for item in env_missing:
        node, _, var = item.partition(": ")
        names.setdefault(node, []).append(var)
    for n in launch.nodes:
        for arg in (n.docker_run or n.argv):
            for var in re.findall(r"<([A-Z][A-Z0-9_]*)>", str(arg)):
                if var not in names[n.name]:
                    names[n.name].append(var)
    return [f"{node}: {', '.join(vs)}" for node, vs in names.items() if vs]


def _gib(x: float) -> str:
    return f"{x:.1f} GiB"


def render_text(p, unit: str = "Spark") -> str:
    """The plan as text; unit: what a node is ("GPU" with --memory-gib, which plans for other GPUs)."""
    from sparkpilot.planner.launch import placeholders

    lines = []
    busy = list(getattr(p, "busy", []) or [])
    verdict = "; ".join(b.headline() for b in busy) if busy else "FITS" if p.fits else "DOES NOT FIT"
    where = f"{p.nodes} {unit}{'s' if p.nodes > 1 else ''}"
    lines.append(f"{p.model} on {where} (TP={p.tensor_parallel_size}, PP={p.pipeline_parallel_size}, "
                 f"executor {p.executor}): {verdict}")
    lines.append(f"  {p.reason}")
    for b in busy:
        if b.starts_at_util:
            hosts = " ".join(f"--host {n.name}" for n in p.launch.nodes) if p.launch else ""
            lines.append(f"  try: sparkpilot plan {p.model} {hosts} --gpu-memory-utilization {b.util:.2f}".rstrip())
    if not p.fits and not busy:
        tries = []
        if p.min_nodes and p.min_nodes != p.nodes:
            tries.append(f"sparkpilot plan {p.model} --nodes {p.min_nodes}")
        if p.max_model_len_fit and p.max_model_len_fit < p.max_model_len:
            tries.append(f"sparkpilot plan {p.model} --nodes {p.nodes} --max-model-len {p.max_model_len_fit}")
        for t in tries:
            lines.append(f"  try: {t}")
    lines.append("")
    lines.append("memory per GPU")
    lines.append(f"  total as CUDA reports it  {_gib(p.total_gib)}  x gpu-memory-utilization "
                 f"{p.gpu_memory_utilization:.2f} = budget {_gib(p.budget_gib)}")
    lines.append(f"  left to the OS, page cache and graphs  {_gib(p.total_gib - p.budget_gib)} "
                 "(drop the page cache before start if free memory is below the budget)")
    lines.append(f"  weights                   {_gib(p.weights_gib_per_gpu)}  ({p.weights_source})")
    lines.append(f"  activation peak           {_gib(p.activation_gib)}")
    lines.append(f"  non-torch (CUDA, NCCL)    {_gib(p.non_torch_gib)}")
    lines.append(f"  CUDA graph pool           {_gib(p.cudagraph_gib)}")
    lines.append(f"  KV cache                  {_gib(p.kv_cache_gib_per_gpu)}  ({p.kv_cache_dtype}, "
                 f"{p.kv_bytes_per_token / 1024:.1f} KiB per token)")
    lines.append(f"  KV tokens                 {p.kv_cache_tokens:,}")
    lines.append(f"  max concurrency           {p.max_concurrency:.2f} x {p.max_model_len:,} tokens")
    lines.append(f"  largest max-model-len     {p.max_model_len_fit:,}")
    mn = "none up to 16" if p.min_nodes is None else str(p.min_nodes)
    lines.append(f"  {'fewest ' + unit + 's that fit':<26}{mn}")
    for note in p.notes:
        lines.append(f"  note: {note}")
    lines.append("")
    eta = p.startup_eta_s
    phases = ", ".join(f"{k} {v / 60:.1f}" for k, v in eta.items() if k != "total" and v)
    lines.append(f"start-up estimate: {eta['total'] / 60:.1f} min ({phases} min)")
    if p.launch is not None:
        lines.append("")
        state = "" if p.fits else f": it will not start on {', '.join(b.node for b in busy)} now, shown for reference" \
            if busy else ": it does not fit as planned, shown for reference"
        lines.append(f"launch ({p.launch.image})" + state)
        for node in p.launch.nodes:
            lines.append(f"  # {node.name} ({node.role})")
            lines += ["  " + line for line in wrapped(node.docker_run or node.argv)]
        if len(p.launch.nodes) > 1:
            joins = "the head's vLLM waits for the workers to join Ray" if p.launch.executor == "ray" else \
                "the head's vLLM waits for the other ranks to connect to --master-addr"
            lines.append(f"  start {p.launch.nodes[0].name} (head) first, then the line of each other node; {joins}")
        missing = _placeholders_by_node(p.launch, placeholders(p.launch))
        if missing:
            lines.append("")
            lines.append("placeholders to fill (<...> values): " + "; ".join(missing))
            hosts = " ".join(f"--host USER@SPARK{i + 1}" for i in range(len(p.launch.nodes)))
            lines.append(f"  run `sparkpilot plan {p.model} {hosts}` to read them "
                         "from the hosts, or set them from `ibdev2netdev` and `show_gids` on each node")
        lines.append("  HF_TOKEN is passed by name from your environment (never written into the plan)")
    return "\n".join(lines) + "\n"
