"""What `up` adds to a start, as ratios and seconds (issue 12's targets), on any hosts:

    python bench/up_overhead.py --plan plan.json --host me@spark-1 [--host ...]
        [--fail-plan failing-plan.json] [--restarts]
    sudo .venv/bin/python bench/up_overhead.py --sim [--runs N] [--restarts]

--sim: on the simulated cluster's real vLLM (its CPU build), end to end: starts one simulated
node with its own dockerd (tests/sim), writes the CPU plan (tests/sim/launch_plan.py) and a
failing one (the same plan with a flag vLLM rejects), runs up with --force (pre-flight rightly
refuses the CPU build's --enforce-eager and the recorded GB10 memory figures, and still runs every
check), tears the cluster down and checks nothing of it is left.

- overhead: up's time from its invocation (this script starting the process: Python's imports
  count) to the /health event, minus vLLM's own time from the container's start to "Application
  startup complete" (docker's timestamps) - target at most 2 s. It is shown in two parts: up's
  time before the container starts (imports, plan, pre-flight, model and image checks, docker
  run) and after vLLM said it is up (until up saw /health). The smoke chat comes after /health:
  it is not start overhead (a user would send that first request anyway) and is printed apart;
- failure latency: a failing plan's fatal log line (its docker timestamp) to up's failure event
  - target at most 5 s;
- Ray formation (a Ray plan): the head's container event to "Ray cluster formed" - at most 15 s;
- warm restart: the second start's seconds to ready (compile cache kept) over the first's -
  at most 0.7.
Each start is torn down with `sparkpilot down` before the next.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from itertools import pairwise
from pathlib import Path

TS = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)")
SIM_UP_ARGS = ["--force", "--hang-timeout", "900"]   # a loaded 2-core machine: minutes of engine init


def load() -> str:
    """The load average (1, 5, 15 min), printed with every figure: these benches share the machine."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def epoch(ts: str) -> float:
    head, _, frac = ts.rstrip("Z").partition(".")
    base = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return base + (float("0." + frac[:9]) if frac else 0.0)


def sparkpilot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparkpilot", *args], capture_output=True, text=True, check=False)


UP_ARGS: list[str] = []


def up(plan: str, hosts: list[str], name: str) -> tuple[float, list[dict]]:
    """(the wall time up was invoked at, its JSON events)."""
    invoked = time.time()
    res = sparkpilot("up", plan, *hosts, "--name", name, "--format", "json", *UP_ARGS)
    return invoked, [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]


def on_head(host: str, argv: list[str]) -> subprocess.CompletedProcess | object:
    from sparkpilot.transport import connect

    r = connect(host)
    try:
        return r.run(argv, timeout=60)
    finally:
        r.close()


def step_at(events: list[dict], step: str) -> float | None:
    return next((e["time"] for e in events if e["event"] == "step" and e.get("step") == step), None)


def one_start(plan: str, hosts: list[str], host_args: list[str], name: str) -> dict:
    invoked, events = up(plan, host_args, name)
    health = next((e["time"] for e in events if e["event"] == "ready" and "phase" not in e), None)
    ready = next((e for e in events if e["event"] == "ready" and e.get("phase") == "ready"), None)
    out: dict = {"outcome": events[-1].get("outcome") if events else None}
    if health is not None:
        insp = on_head(hosts[0], ["docker", "inspect", "--format", "{{.State.StartedAt}}", f"sparkpilot-{name}"])
        m = TS.search(insp.stdout.replace("+00:00", "Z"))  # type: ignore[attr-defined]
        started = epoch(m[1]) if m else None
        text = on_head(hosts[0], ["docker", "logs", "--timestamps", f"sparkpilot-{name}"])
        complete = next((epoch(m[1]) for line in (text.stdout + text.stderr).splitlines()  # type: ignore[attr-defined]
                         if "Application startup complete" in line and (m := TS.search(line))), None)
        if started and complete:
            out["vllm_own_s"] = round(complete - started, 2)
            out["up_to_health_s"] = round(health - invoked, 2)
            out["overhead_s"] = round(out["up_to_health_s"] - out["vllm_own_s"], 2)
            out["before_container_s"] = round(started - invoked, 2)
            out["after_vllm_ready_s"] = round(health - complete, 2)
            out["steps"] = breakdown(invoked, events, started, complete, health)
    if ready:
        out["seconds_to_ready"] = ready.get("seconds_to_ready")
        out["health_to_ready_s"] = round(ready["time"] - health, 2) if health else None
    ray = next((e["time"] for e in events if e["event"] == "phase" and "Ray cluster formed" in e.get("message", "")), None)
    head_started = next((e["time"] for e in events if e["event"] == "container"), None)
    if ray and head_started:
        out["ray_formation_s"] = round(ray - head_started, 2)
    return out


def breakdown(invoked: float, events: list[dict], started: float, complete: float, health: float) -> dict:
    """Seconds of each of up's steps, from the events' times (and docker's for the container)."""
    marks = [("startup (imports, plan, connect)", invoked), ("pre-flight", step_at(events, "preflight")),
             ("model and image checks", step_at(events, "sync")), ("docker run", step_at(events, "launch")),
             ("vLLM's own start", started), ("until up saw /health", complete), ("end", health)]
    known = [(k, t) for k, t in marks if t is not None]
    return {k: round(t2 - t1, 2) for (k, t1), (_, t2) in pairwise(known)}


def failure_latency(plan: str, host_args: list[str], name: str) -> float | None:
    _, events = up(plan, host_args, name)
    fail = next((e for e in events if e["event"] == "failure"), None)
    if not fail:
        return None
    for line in [fail["failure"].get("line") or ""] + list(fail["failure"].get("evidence") or []):
        m = TS.search(line)
        if m:
            return round(fail["time"] - epoch(m[1]), 2)
    return None


def sim_setup(stack, workdir: Path) -> tuple[str, str, list[str]]:
    """One simulated node with docker (torn down and checked by `stack`); (plan, failing plan, hosts)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from sim import launch_plan  # type: ignore[import-not-found]
    from sim.fixture import checked_cluster  # type: ignore[import-not-found]

    cluster = stack.enter_context(checked_cluster(["healthy"], fabric="cable"))
    os.environ.update({**cluster.env(), "XDG_STATE_HOME": str(cluster.dir) + "/state"})
    plan, host_args = launch_plan.cpu_plan(cluster, cluster.nodes[:1], workdir / "plan.json")
    data = json.loads(plan.read_text())
    for node in data["launch"]["nodes"]:
        node["docker_run"].append("--no-such-flag")   # vLLM's argparse refuses it: a real fatal line
    fail = workdir / "fail-plan.json"
    fail.write_text(json.dumps(data))
    UP_ARGS.extend(SIM_UP_ARGS)
    return str(plan), str(fail), host_args[1::2]


def report_start(label: str, r: dict) -> None:
    print(f"{label}: {json.dumps(r)}")
    if "overhead_s" in r:
        print(f"  up overhead over vLLM's own start: {r['overhead_s']:.2f} s (vLLM {r['vllm_own_s']:.2f} s, "
              f"up to /health {r['up_to_health_s']:.2f} s; target <= 2 s): {r['before_container_s']:.2f} s "
              f"before the container started + {r['after_vllm_ready_s']:.2f} s from vLLM's "
              "\"Application startup complete\" to up's /health")
        print("  steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in r["steps"].items()))
    if r.get("health_to_ready_s") is not None:
        print(f"  after /health: /v1/models and the judged smoke chat {r['health_to_ready_s']:.2f} s "
              f"(ready in {r['seconds_to_ready']:.1f} s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan")
    ap.add_argument("--host", action="append", default=[])
    ap.add_argument("--fail-plan")
    ap.add_argument("--sim", action="store_true", help="on one simulated node's real vLLM, set up and torn down here")
    ap.add_argument("--runs", type=int, default=1, help="starts to measure the overhead on (median)")
    ap.add_argument("--restarts", action="store_true", help="measure a second start against the first")
    ap.add_argument("--up-arg", action="append", default=[], help="one more argument for up (repeat)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    if not args.sim and not args.plan:
        ap.error("--plan (or --sim) is required")
    from contextlib import ExitStack
    from tempfile import TemporaryDirectory

    compile_bytecode()
    failed: list[str] = []
    with ExitStack() as stack:
        if args.sim:
            args.plan, args.fail_plan, args.host = sim_setup(stack, Path(stack.enter_context(TemporaryDirectory())))
        UP_ARGS.extend(args.up_arg)
        host_args = [a for h in args.host for a in ("--host", h)]
        hosts = args.host or ["local"]
        print(f"load average before: {load()}")
        starts = []
        for i in range(max(1, args.runs)):
            starts.append(one_start(args.plan, hosts, host_args, "bench-up"))
            sparkpilot("down", "bench-up", *host_args)
            report_start(f"start {i + 1}", starts[-1])
        first = starts[0]
        over = [s["overhead_s"] for s in starts if "overhead_s" in s]
        if over:
            med = statistics.median(over)
            print(f"up overhead over vLLM's own start: {med:.2f} s (median of {len(over)}; target <= 2 s: "
                  f"{'PASS' if med <= 2 else 'FAIL'})")
            failed += ["overhead"] if med > 2 else []
        if "ray_formation_s" in first:
            print(f"Ray formation: {first['ray_formation_s']:.2f} s (target <= 15 s)")
        if args.restarts:
            second = one_start(args.plan, hosts, host_args, "bench-up")
            sparkpilot("down", "bench-up", *host_args)
            if first.get("seconds_to_ready") and second.get("seconds_to_ready"):
                ratio = second["seconds_to_ready"] / first["seconds_to_ready"]
                print(f"warm restart: {second['seconds_to_ready']:.1f} s / {first['seconds_to_ready']:.1f} s = "
                      f"{ratio:.2f} (target <= 0.7)")
        if args.fail_plan:
            lat = failure_latency(args.fail_plan, host_args, "bench-fail")
            sparkpilot("down", "bench-fail", *host_args)
            print(f"failure reported {lat} s after its log line (target <= 5 s: {'PASS' if lat <= 5 else 'FAIL'})"
                  if lat is not None else "failure latency: no timestamped fatal line in the failure event")
            failed += ["failure latency"] if lat is None or lat > 5 else []
        print(f"load average after: {load()}")
    return 1 if failed and args.strict else 0


def compile_bytecode() -> None:
    """sparkpilot's bytecode, as an installed package has it (pip compiles on install): with
    PYTHONDONTWRITEBYTECODE set and an editable install, every up would compile ~70 modules again."""
    import compileall

    import sparkpilot

    compileall.compile_dir(str(Path(sparkpilot.__file__).parent), quiet=1)


if __name__ == "__main__":
    sys.exit(main())
