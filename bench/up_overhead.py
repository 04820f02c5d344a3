"""What `up` adds to a start, as ratios and seconds (issue 12's targets), on any hosts:

    python bench/up_overhead.py --plan plan.json --host me@spark-1 [--host ...]
        [--fail-plan failing-plan.json] [--restarts]

- overhead: up's time from invocation to /health, minus vLLM's own time from the container's
  start to "Application startup complete" (docker's timestamps) - target at most 2 s;
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
import re
import subprocess
import sys
from datetime import datetime

TS = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)")


def epoch(ts: str) -> float:
    ts = ts.rstrip("Z")
    head, _, frac = ts.partition(".")
    base = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").timestamp() - _utc_offset()
    return base + (float("0." + frac[:9]) if frac else 0.0)


def _utc_offset() -> float:
    import time

    return -time.timezone if not time.localtime().tm_isdst else -time.altzone


def sparkpilot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparkpilot", *args], capture_output=True, text=True, check=False)


UP_ARGS: list[str] = []


def up(plan: str, hosts: list[str], name: str) -> list[dict]:
    res = sparkpilot("up", plan, *hosts, "--name", name, "--format", "json", *UP_ARGS)
    return [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]


def container_started(host: str, name: str) -> float | None:
    from sparkpilot.transport import connect

    r = connect(host)
    try:
        out = r.run(["docker", "inspect", "--format", "{{.State.StartedAt}}", f"sparkpilot-{name}"], timeout=30)
        m = TS.search(out.stdout.replace("+00:00", "Z"))
        return epoch(m[1]) if m else None
    finally:
        r.close()


def one_start(plan: str, hosts: list[str], host_args: list[str], name: str) -> dict:
    events = up(plan, host_args, name)
    first = events[0]["time"] if events else 0.0
    health = next((e["time"] for e in events if e["event"] == "ready" and "phase" not in e), None)
    ready = next((e for e in events if e["event"] == "ready" and e.get("phase") == "ready"), None)
    out: dict = {"outcome": events[-1].get("outcome") if events else None}
    if health is not None:
        started = container_started(hosts[0], name)
        from sparkpilot.transport import connect

        r = connect(hosts[0])
        try:
            text = r.run(["docker", "logs", "--timestamps", f"sparkpilot-{name}"], timeout=60)
        finally:
            r.close()
        complete = next((epoch(m[1]) for line in (text.stdout + text.stderr).splitlines()
                         if "Application startup complete" in line and (m := TS.search(line))), None)
        if started and complete:
            out["vllm_own_s"] = round(complete - started, 2)
            out["up_to_health_s"] = round(health - first, 2)
            out["overhead_s"] = round(out["up_to_health_s"] - out["vllm_own_s"], 2)
    if ready:
        out["seconds_to_ready"] = ready.get("seconds_to_ready")
    ray = next((e["time"] for e in events if e["event"] == "phase" and "Ray cluster formed" in e.get("message", "")), None)
    head_started = next((e["time"] for e in events if e["event"] == "container"), None)
    if ray and head_started:
        out["ray_formation_s"] = round(ray - head_started, 2)
    return out


def failure_latency(plan: str, host_args: list[str], name: str) -> float | None:
    events = up(plan, host_args, name)
    fail = next((e for e in events if e["event"] == "failure"), None)
    if not fail:
        return None
    for line in [fail["failure"].get("line") or ""] + list(fail["failure"].get("evidence") or []):
        m = TS.search(line)
        if m:
            return round(fail["time"] - epoch(m[1]), 2)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--host", action="append", default=[])
    ap.add_argument("--fail-plan")
    ap.add_argument("--restarts", action="store_true", help="measure a second start against the first")
    ap.add_argument("--up-arg", action="append", default=[], help="one more argument for up (repeat)")
    args = ap.parse_args()
    UP_ARGS.extend(args.up_arg)
    host_args = [a for h in args.host for a in ("--host", h)]
    hosts = args.host or ["local"]
    first = one_start(args.plan, hosts, host_args, "bench-up")
    sparkpilot("down", "bench-up", *host_args)
    print(f"first start: {json.dumps(first)}")
    if "overhead_s" in first:
        print(f"up overhead over vLLM's own start: {first['overhead_s']:.2f} s "
              f"(vLLM {first['vllm_own_s']:.2f} s, up to /health {first['up_to_health_s']:.2f} s; target <= 2 s)")
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
        print(f"failure reported {lat} s after its log line (target <= 5 s)" if lat is not None
              else "failure latency: no timestamped fatal line in the failure event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
