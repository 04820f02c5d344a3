"""sparkpilot bench: tokens per second you can trust, against what a Spark should give.

    sparkpilot bench --container vllm                       # the vLLM container on this machine
    sparkpilot bench --host me@spark-1 --container vllm --profile sweep --report out/
    sparkpilot bench --endpoint http://127.0.0.1:8000 --profile single --profile poisson
    sparkpilot bench --compare RUN_A RUN_B --report out/   # runs side by side (ids, files or HOST/DEPLOYMENT)
Exit 1 when a row is physically impossible, the server's /metrics disagree, or the client fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sparkpilot.cli.common import add_format, print_json
from sparkpilot.errors import EXIT_FINDINGS, EXIT_OK, UsageError

EXAMPLES = """\
  sparkpilot bench --container vllm                      single stream on this machine's vLLM container
  sparkpilot bench --host me@spark-1 --container vllm --profile sweep --report bench-out/
  sparkpilot bench --compare 20261206T101500 20261206T113000
"""


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise UsageError(f"expected comma-separated integers, got `{text}`") from exc


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise UsageError(f"expected comma-separated numbers, got `{text}`") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deployment", metavar="NAME",
                        help="a deployment `sparkpilot up` started (its head node, container, plan)")
    parser.add_argument("--host", help="the node that serves: local (default) or user@host")
    parser.add_argument("--container", help="the running vLLM container on that node (image, mounts, launch)")
    parser.add_argument("--endpoint", help="the server's base URL (default: http://127.0.0.1:PORT of the container)")
    parser.add_argument("--image", help="run the client inside this image (default: the container's image)")
    parser.add_argument("--model-info", metavar="ID_OR_DIR",
                        help="the served model's catalog id or local folder, for the bounds (default: what it serves)")
    parser.add_argument("--nodes", type=int, help="Sparks the deployment spans (default: its tensor-parallel size)")
    parser.add_argument("--profile", action="append", choices=("single", "sweep", "depth", "poisson"),
                        help="single (default), sweep, depth, poisson; repeat for several")
    parser.add_argument("--input-len", type=int, default=1024, help="prompt tokens (default 1024)")
    parser.add_argument("--output-len", type=int, default=128, help="generated tokens (default 128)")
    parser.add_argument("--prompts", type=int, help="requests per run (default: scaled with concurrency)")
    parser.add_argument("--max-concurrency", type=int,
                        help="sweep up to this (default: the plan's max concurrency with --deployment, else 64)")
    parser.add_argument("--depths", type=_ints, default=(0, 4096, 16384), help="depth profile prefixes (0,4096,16384)")
    parser.add_argument("--rates", type=_floats, default=(0.5, 1.0, 2.0), help="poisson request rates (0.5,1,2)")
    parser.add_argument("--slo-ttft-ms", type=float, default=2000.0, help="goodput SLO: time to first token")
    parser.add_argument("--slo-tpot-ms", type=float, default=100.0, help="goodput SLO: time per output token")
    parser.add_argument("--min-runs", type=int, default=2, help="repeats at least (default 2)")
    parser.add_argument("--max-runs", type=int, default=5, help="repeats at most (default 5)")
    parser.add_argument("--target-ci", type=float, default=0.05,
                        help="stop repeating once the 95%% interval is within this fraction of the mean (0.05)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the discarded warm-up run")
    parser.add_argument("--hardware", default="gb10",
                        help="bounds: gb10 (sourced figures, default) or measured (torch on the serving node)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per client run (default 1800)")
    parser.add_argument("--compare", nargs="+", metavar="RUN", help="show saved runs side by side instead of running")
    parser.add_argument("--report", metavar="DIR", help="write throughput/latency PNGs and index.html here")
    parser.add_argument("--no-save", action="store_true", help="do not keep the run")
    add_format(parser)


def _validate(args: argparse.Namespace) -> None:
    for name in ("input_len", "output_len", "max_concurrency", "min_runs", "max_runs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.prompts is not None and args.prompts < 1:
        raise UsageError("--prompts must be at least 1")
    if args.min_runs > args.max_runs:
        raise UsageError("--min-runs is larger than --max-runs")
    if not 0 < args.target_ci < 1:
        raise UsageError("--target-ci must be between 0 and 1")
    if args.nodes is not None and args.nodes < 1:
        raise UsageError("--nodes must be at least 1")
    if not args.compare and not (args.endpoint or args.container or args.deployment):
        raise UsageError("give --deployment NAME, --container NAME (a running vLLM) or --endpoint URL, "
                         "or --compare RUN...")
    if args.deployment and (args.host or args.container):
        raise UsageError("--deployment names its host and container: drop --host / --container")


def run(args: argparse.Namespace) -> int:
    _validate(args)
    if args.compare:
        from sparkpilot.benchmark import store

        runs = [store.load(ref) for ref in args.compare]
        return _finish(runs, args, compare=True)
    from sparkpilot.benchmark import knowledge, measure, profiles, target
    from sparkpilot.benchmark import run as bench_run
    from sparkpilot.transport import connect

    deployed = target.deployed(args.deployment) if args.deployment else None
    if deployed:
        args.host, args.container = deployed.host, deployed.container
        args.nodes = args.nodes or deployed.nodes
        args.model_info = args.model_info or deployed.model or None
        args.max_concurrency = args.max_concurrency or deployed.max_concurrency
    runner = connect(args.host or "local", timeout=30.0)
    try:
        endpoint = args.endpoint
        if not endpoint and args.container:
            from sparkpilot.benchmark import envelope

            argv = envelope.inspect_container(runner, args.container).argv
            endpoint = f"http://127.0.0.1:{target.port_of(argv)}"
        served = target.served_models(runner, endpoint)
        client, deployment = target.client_for(runner, endpoint, args.container, args.image, served)
        nodes = args.nodes or (target.tp_size(deployment.argv) if deployment else 1)
        hardware = (measure.measured(runner, client.image) if args.hardware == "measured"
                    else knowledge.hardware(args.hardware))
        shape = profiles.Shape(input_len=args.input_len, output_len=args.output_len, prompts=args.prompts,
                               max_concurrency=args.max_concurrency or 64, max_model_len=served.max_model_len,
                               depths=args.depths, rates=args.rates, slo_ttft_ms=args.slo_ttft_ms,
                               slo_tpot_ms=args.slo_tpot_ms)
        loads = [ld for p in (args.profile or ["single"]) for ld in profiles.loads(p, shape)]
        if served.max_model_len and args.input_len + args.output_len > served.max_model_len:
            raise UsageError(f"--input-len + --output-len ({args.input_len + args.output_len}) is over the "
                             f"server's max_model_len {served.max_model_len}")
        tgt = bench_run.Target(runner=runner, host=runner.name,
                               deployment=args.deployment or args.container or endpoint,
                               client=client, nodes=nodes, model=target.model_info(args.model_info, served),
                               served=deployment)
        policy = bench_run.Policy(min_runs=args.min_runs, max_runs=args.max_runs, target_ci=args.target_ci,
                                  warmup=not args.no_warmup, timeout_s=args.timeout)
        progress = _Progress(quiet=args.format == "json")
        try:
            doc = bench_run.run(tgt, loads, hardware, policy, on_event=progress)
        finally:
            progress.close()
        if not args.no_save:
            doc["saved"] = bench_run.save(doc)
    finally:
        runner.close()
    return _finish([doc], args, compare=False)


def _finish(runs: list[dict[str, Any]], args: argparse.Namespace, *, compare: bool) -> int:
    files = {}
    if args.report:
        from sparkpilot.benchmark import report

        files = {k: str(v) for k, v in report.write(runs, Path(args.report)).items()}
    bad = any(any(m.startswith(("rejected", "metrics-mismatch")) for ld in r["loads"] for row in ld["rows"]
                  for m in row["marks"]) for r in runs)
    if args.format == "json":
        print_json(runs if compare else {**runs[0], "report": files})
    else:
        print(render(runs))
        for kind, path in files.items():
            print(f"report {kind}: {path}")
    return EXIT_FINDINGS if bad and not compare else EXIT_OK


def _fmt(interval: dict[str, Any]) -> str:
    if not interval["n"]:
        return "-"
    half = interval.get("ci95_half_width")
    return f"{interval['mean']:.1f}" + (f" ±{half:.1f}" if half is not None else " (1 run)")


def render(runs: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for run in runs:
        dep = run["envelope"]["deployment"]
        from sparkpilot.benchmark.report import short

        lines.append(f"{run['key']['host']} / {short(run['key']['deployment'])}  run {run['id']}  model {run['model']}  "
                     f"nodes {run['nodes']}  client {run['client']}")
        lines.append(f"  image {dep.get('image') or '?'} ({(dep.get('image_id') or '?')[:19]})  vLLM "
                     f"{dep.get('vllm_version') or '?'}  NCCL {dep.get('nccl_version') or '?'}")
        lines.append(f"  {'load':<36} {'tok/s all (95%)':>18} {'tok/s stream':>13} {'TTFT p50':>9} {'runs':>5}  marks")
        for ld in run["loads"]:
            rows = ld["rows"]
            ttft = [r["median_ttft_ms"] for r in rows if r.get("median_ttft_ms") is not None]
            marks = sorted({m.split(":")[0] for r in rows for m in r["marks"]})
            tight = "" if ld["tight"] else " (interval not tight)"
            lines.append(f"  {ld['label']:<36} {_fmt(ld['output_tok_s']):>18} {_fmt(ld['stream_decode_tok_s']):>13} "
                         f"{(sum(ttft) / len(ttft)) if ttft else 0:>7.0f}ms {len(rows):>5}  "
                         f"{', '.join(marks)}{tight}")
            for r in rows:
                for m in r["marks"]:
                    if m.startswith(("rejected", "metrics-mismatch")):
                        lines.append(f"      {m}")
        for c in run["comparisons"]:
            lines.append(f"  vs {c['against']}: {c['measured_tok_s']:.1f} against {c['expected_tok_s']:.1f} tok/s "
                         f"- {c['verdict']}")
        for cause in run["causes"]:
            lines.append(f"  gap: {cause['rule']} ({cause['severity']}): {cause['message']}")
        if run.get("saved"):
            lines.append(f"  saved {run['saved']}")
        lines.append("")
    return "\n".join(lines).rstrip()


class _Progress:
    """A rich progress bar on a terminal, plain lines when piped, nothing with --format json."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar: Any = None
        self.task: Any = None
        if not quiet and sys.stderr.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task("bench", total=None)

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        if event["event"] == "run":
            text = f"{event['load']}: run {event['repeat']}/{event['max']}"
        elif event["event"] == "warmup":
            text = f"warm-up ({event['load']})"
        else:
            value = event.get("output_tok_s")
            text = f"{event['load']}: run {event['repeat']} {value:.1f} tok/s" if value else f"{event['load']}: done"
        if self.bar is not None:
            self.bar.update(self.task, description=text)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
