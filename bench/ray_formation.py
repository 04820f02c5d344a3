"""Ray formation on the simulated pair for a real `sparkpilot up --executor ray` (issue 12's target:
at most 15 s from the head's container start to "Ray cluster formed", every node's GPU in it):

    sudo .venv/bin/python bench/ray_formation.py [--runs 3] [--keep]

Starts two cabled simulated nodes with a dockerd each (tests/sim), writes the Ray plan `sparkpilot
plan --executor ray` makes for them on the replay image (tests/sim/replay_plan.py: real Ray 2.60 in
each container, `--num-gpus 1` standing in for the GB10; the head's `vllm serve` replays a real
GB10 pair start at time scale 0.02), runs `up --no-smoke` and `down` RUNS times and prints, per run
and as the median, the formation time (up's "container" event of the head to its "Ray cluster
formed" event) and where it went, from docker's timestamps: the head's `ray start` until "Ray
runtime started", the worker's container start after the head's, the worker's `ray start` until it
joined, and up's detection after the last node joined (its `ray status` question).
The load average is printed with each run: other work on the 2 cores slows Ray's Python starts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from up_overhead import TS, epoch, load, sparkpilot  # bench/ is not a package

NAME = "bench-ray"
STARTED = "Ray runtime started"


def docker_times(node) -> tuple[float | None, float | None]:
    """(container started, its log's "Ray runtime started") as epoch seconds, from docker."""
    insp = node.docker.docker("inspect", "--format", "{{.State.StartedAt}}", f"sparkpilot-{NAME}", check=False)
    m = TS.search(insp.stdout.replace("+00:00", "Z"))
    logs = node.docker.docker("logs", "--timestamps", f"sparkpilot-{NAME}", check=False)
    joined = next((epoch(t[1]) for line in (logs.stdout + logs.stderr).splitlines()
                   if STARTED in line and (t := TS.search(line))), None)
    return (epoch(m[1]) if m else None), joined


def one(plan: Path, host_args: list[str], nodes) -> dict:
    res = sparkpilot("up", str(plan), *host_args, "--name", NAME, "--format", "json", "--force", "--no-smoke")
    events = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    head_ev = next((e for e in events if e["event"] == "container"), None)
    formed = next((e for e in events if e["event"] == "phase" and "Ray cluster formed" in e.get("message", "")), None)
    out: dict = {"outcome": events[-1].get("outcome") if events else res.stderr.strip()[-300:]}
    failure = next((e for e in events if e["event"] == "failure"), None)
    if res.returncode and not failure:
        out["error"] = (res.stderr.strip().splitlines() or [f"exit {res.returncode}"])[-1][:300]
    if failure:
        out["failure"] = f"{failure['failure'].get('class')}: {failure['failure'].get('line') or failure['message']}"[:300]
    times = [docker_times(n) for n in nodes]
    sparkpilot("down", NAME, *host_args)
    if head_ev and formed:
        out["formation_s"] = round(formed["time"] - head_ev["time"], 2)
        out["ray_status_asked"] = formed.get("ray_status_asked")
        (h_start, h_joined), (w_start, w_joined) = times[0], times[1]
        if h_start and h_joined and w_start and w_joined:
            out["head_ray_start_s"] = round(h_joined - h_start, 2)
            out["worker_container_after_head_s"] = round(w_start - h_start, 2)
            out["worker_ray_start_s"] = round(w_joined - w_start, 2)
            out["detected_after_last_join_s"] = round(formed["time"] - max(h_joined, w_joined), 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="leave the simulated cluster running")
    args = ap.parse_args()
    from sim.cluster import Cluster  # type: ignore[import-not-found]
    from sim.fixture import checked_cluster  # type: ignore[import-not-found]
    from sim.replay_plan import replay_plan  # type: ignore[import-not-found]

    with ExitStack() as stack:
        if args.keep:
            cluster = Cluster.start(["healthy", "healthy"], docker=True, keep=True, fabric="cable")
        else:
            cluster = stack.enter_context(checked_cluster(["healthy", "healthy"], fabric="cable"))
        os.environ.update({**cluster.env(), "XDG_STATE_HOME": str(cluster.dir) + "/state",
                           "SPARKPILOT_TIME_SCALE": "0.02"})
        tmp = Path(stack.enter_context(TemporaryDirectory()))
        plan, host_args = replay_plan(cluster, cluster.nodes[:2], "ready-pair-head", tmp, executor="ray", gpus=True)
        print(f"Ray pair: simulated nodes {cluster.nodes[0].name} (head), {cluster.nodes[1].name} "
              f"(slot {cluster.slot}); load average {load()}")
        got = []
        for i in range(max(1, args.runs)):
            r = one(plan, host_args, cluster.nodes[:2])
            print(f"run {i + 1}: {json.dumps(r)}; load average {load()}")
            if "formation_s" in r:
                got.append(r)
        if got:
            med = statistics.median(r["formation_s"] for r in got)
            print(f"Ray formation: {med:.2f} s, median of {len(got)} "
                  f"(target <= 15 s: {'PASS' if med <= 15 else 'FAIL'}); load average {load()}")
            for k in ("head_ray_start_s", "worker_container_after_head_s", "worker_ray_start_s",
                      "detected_after_last_join_s"):
                vals = [r[k] for r in got if k in r]
                if vals:
                    print(f"  {k}: median {statistics.median(vals):.2f} s")
        else:
            print("Ray formation: no run formed a cluster; see the outcomes above")
        if args.keep:
            print(f"cluster left running: scripts/sim-cluster stop {cluster.slot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
