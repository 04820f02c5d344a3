"""A restart against the first start in compile mode, with up's compile cache kept (issue 12's
target: at most 0.7), on the simulated cluster's real vLLM (its CPU build, root):

    sudo .venv/bin/python bench/warm_restart.py [--eager] [--keep]

Starts one simulated node with its own dockerd (tests/sim), writes the CPU plan
(tests/sim/launch_plan.py) in compile mode: no --enforce-eager and `-e TORCH_COMPILE_DISABLE=0`
(the engine image turns torch.compile off for the other tests; inductor builds with the image's
g++). Then `sparkpilot up` (the node's ~/.cache/sparkpilot/vllm-cache is new and empty: a cold
start, which compiles), `sparkpilot down`, and `up` again (the cache kept: a warm start). Prints
each start's seconds to ready (up's own figure: invocation to the judged smoke chat), vLLM's
`torch.compile takes` / `init engine ... took` lines, what the cache folder holds after each start
(by top folder) and the ratio. Anything a start compiled into the container's /tmp or ~ (lost with
the container) is listed too. `--eager` runs the same with --enforce-eager (no compile) to compare;
`--keep` leaves the cluster running (its slot is printed; `scripts/sim-cluster stop SLOT`).
The load average is printed before and after: other work on the machine slows both starts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from up_overhead import load, sparkpilot  # bench/ is not a package

UP = ["--force", "--hang-timeout", "1800", "--format", "json"]   # a loaded 2-core machine compiles for minutes
_COMPILE_LINES = re.compile(r"torch\.compile takes .*|init engine .* took [\d.]+ s|Directly load .*|"
                            r"saved AOT compiled function.*|Compiling model again.*|Compiling a graph.*")


# compile caches in their default places (the container's /tmp and ~), which a new container does not have
LOST = ("find /tmp /root/.triton /root/.cache/flashinfer /root/.nv -type f 2>/dev/null | "
        "grep -E 'torchinductor|triton|flashinfer|ComputeCache' | head -8")


def compile_mode(plan: Path) -> None:
    """The sim's CPU plan without --enforce-eager and with torch.compile on (the image turns it off)."""
    data = json.loads(plan.read_text())
    for node in data["launch"]["nodes"]:
        node["argv"] = [a for a in node["argv"] if a != "--enforce-eager"]
        run = [a for a in node["docker_run"] if a != "--enforce-eager"]
        at = run.index(data["launch"]["image"])
        node["docker_run"] = [*run[:at], "-e", "TORCH_COMPILE_DISABLE=0", *run[at:]]
    plan.write_text(json.dumps(data))


def start(plan: Path, host_args: list[str], node) -> dict:
    res = sparkpilot("up", str(plan), *host_args, "--name", "bench-warm", *UP)
    events = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    ready = next((e for e in events if e["event"] == "ready" and e.get("phase") == "ready"), None)
    logs = node.docker.docker("logs", "sparkpilot-bench-warm", check=False)
    lines = [m[0] for m in _COMPILE_LINES.finditer(logs.stdout + logs.stderr)]
    lost = node.docker.docker("exec", "sparkpilot-bench-warm", "sh", "-c", LOST, check=False)
    down = sparkpilot("down", "bench-warm", *host_args)
    return {"outcome": events[-1].get("outcome") if events else res.stderr.strip()[-300:],
            "seconds_to_ready": ready.get("seconds_to_ready") if ready else None,
            "vllm": lines, "lost_with_container": lost.stdout.split(), "down_rc": down.returncode}


def cache_summary(node) -> dict[str, str]:
    root = Path(node.dir) / "home" / ".cache" / "sparkpilot" / "vllm-cache"
    out = {}
    for sub in sorted(root.iterdir()) if root.exists() else []:
        files = [p for p in sub.rglob("*") if p.is_file()]
        out[sub.name] = f"{len(files)} files, {sum(p.stat().st_size for p in files) / 2**20:.1f} MiB"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eager", action="store_true", help="keep --enforce-eager (no compile), to compare")
    ap.add_argument("--keep", action="store_true", help="leave the simulated cluster running")
    args = ap.parse_args()
    from sim import launch_plan  # type: ignore[import-not-found]
    from sim.cluster import Cluster  # type: ignore[import-not-found]
    from sim.fixture import checked_cluster  # type: ignore[import-not-found]

    with ExitStack() as stack:
        if args.keep:
            cluster = Cluster.start(["healthy"], docker=True, keep=True)
        else:
            cluster = stack.enter_context(checked_cluster(["healthy"]))
        os.environ.update({**cluster.env(), "XDG_STATE_HOME": str(cluster.dir) + "/state"})
        tmp = Path(stack.enter_context(TemporaryDirectory()))
        plan, host_args = launch_plan.cpu_plan(cluster, cluster.nodes[:1], tmp / "plan.json")
        if not args.eager:
            compile_mode(plan)
        node = cluster.nodes[0]
        mode = "eager (--enforce-eager)" if args.eager else "compile mode"
        print(f"{mode} on simulated node {node.name} (slot {cluster.slot}); load average {load()}")
        runs = []
        for label in ("first start (cache empty)", "restart (cache kept)"):
            r = start(plan, host_args, node)
            runs.append(r)
            print(f"{label}: ready in {r['seconds_to_ready']} s ({r['outcome']}); load average {load()}")
            for line in r["vllm"]:
                print(f"    vLLM: {line}")
            print(f"    cache folder: {json.dumps(cache_summary(node))}")
            if r["lost_with_container"]:
                print(f"    written outside the cache mount (lost with the container): {r['lost_with_container']}")
        a, b = runs[0]["seconds_to_ready"], runs[1]["seconds_to_ready"]
        if a and b:
            ratio = b / a
            print(f"warm restart: {b:.1f} s / {a:.1f} s = {ratio:.2f} "
                  f"(target <= 0.7: {'PASS' if ratio <= 0.7 else 'FAIL'}); load average {load()}")
        else:
            print("warm restart: a start did not get ready; see the outcomes above")
        if args.keep:
            print(f"cluster left running: scripts/sim-cluster stop {cluster.slot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
