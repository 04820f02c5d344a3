#!/usr/bin/env python3
"""What the simulated cluster's real engine costs on this machine (root needed): the image build
per stage, a node's start, a real vLLM's start and first chat answer on one node and on a native
tensor-parallel pair, their teardown, the disk used, and a 16-node cluster's start. Each figure is
printed with the load average it was taken at (other work shares the cores).

    python bench/sim_engine.py [--cache DIR] [--skip-engines] [--strict]

--cache DIR builds into DIR instead of $SPARKPILOT_SIM_CACHE (default /var/cache/sparkpilot-sim):
an empty DIR measures a fresh machine's build without touching the cache other runs use.
Targets: a 16-node cluster (no docker) starts in <= 30 s; the image, node layer and models are
built in <= 240 s on a fresh machine (issue 10: its tests and the build under 8 minutes together).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

TARGETS = {"sixteen_nodes_s": 30.0, "fresh_build_s": 240.0}


def load() -> str:
    return "load %.1f" % os.getloadavg()[0]


def du(*paths: str) -> int:
    """Bytes of the trees together (a hard-linked file counted once)."""
    out = subprocess.run(["du", "-sbc", *paths], capture_output=True, text=True).stdout.split()
    return int(out[-2]) if len(out) >= 2 else 0


def figure(name: str, value: float, unit: str = "s") -> None:
    print(f"  {name:44} {value:8.1f} {unit}   ({load()})", flush=True)


def timed(fn, *a, **kw):
    t = time.monotonic()
    out = fn(*a, **kw)
    return out, time.monotonic() - t


def build(images, models) -> float:
    from concurrent.futures import ThreadPoolExecutor

    print(f"images in {images.CACHE}")
    fresh = images.info() is None
    _, total = timed(images.build)
    for k, v in (images.info() or {}).items():
        if k.endswith("_s"):
            figure(f"engine image: {k[:-2]}", v)
    t = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        nodes = pool.submit(timed, images.node_template)
        made = pool.submit(timed, models.ensure, ["tiny-random", "fixed-sentence"])
        data, took = nodes.result()
        figure("node layer (replay images, warm bytecode)", took)
        for k, v in json.loads((data.parent / "build.json").read_text()).items():
            if k.endswith("_s"):
                figure(f"node layer: {k[:-2]}", v)
        figure("models (tiny-random, fixed-sentence)", made.result()[1])
    total += time.monotonic() - t
    figure("images and models" + (" (fresh)" if fresh else " (cached)"), total)
    info = images.info() or {}
    figure("disk: engine image", info.get("image_bytes", 0) / 2**30, "GiB")
    figure("disk: whole cache", du(str(images.CACHE)) / 2**30, "GiB")
    return total if fresh else 0.0


def engines(images) -> None:
    from sim import Cluster
    from sim.engine import serve, serve_pair

    for pair in (False, True):
        what = "native pair" if pair else "single node"
        cluster, took = timed(Cluster.start, ["healthy", "healthy"] if pair else ["healthy"], docker=True)
        try:
            figure(f"{what}: cluster with dockerd start", took)
            if pair:
                head, worker = serve_pair(cluster.nodes[0], cluster.nodes[1], "fixed-sentence")
                worker.wait_ready()
            else:
                head = serve(cluster.nodes[0], "fixed-sentence")
            figure(f"{what}: `docker run` to /health", head.wait_ready(timeout=900))
            answer, took = timed(head.chat, "Hello")
            figure(f"{what}: chat answer", took)
            node_dirs = [n.dir for n in cluster.nodes]
            extra = du(str(images.CACHE), *node_dirs) - du(str(images.CACHE))
            figure(f"{what}: disk per node (besides the cache)", extra / len(node_dirs) / 2**20, "MiB")
        finally:
            _, took = timed(cluster.stop)
        figure(f"{what}: teardown", took)
        print(f"    answer: {answer!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", help="build into this directory (empty: a fresh machine's build)")
    ap.add_argument("--skip-engines", action="store_true", help="only the build and the 16-node start")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("sim_engine: needs root (namespaces, dockerd)", file=sys.stderr)
        return 2
    if args.cache:
        os.environ["SPARKPILOT_SIM_CACHE"] = os.path.abspath(args.cache)
    from sim import Cluster, images, models

    got: dict[str, float] = {}
    fresh = build(images, models)
    if fresh:
        got["fresh_build_s"] = fresh
    cluster, took = timed(Cluster.start, ["healthy"] * 16, delay_scale=0)
    cluster.stop()
    figure("16 nodes (no docker) start", took)
    got["sixteen_nodes_s"] = took
    if not args.skip_engines:
        engines(images)
    failed = False
    for k, v in got.items():
        ok = v <= TARGETS[k]
        failed |= not ok
        print(f"{'PASS' if ok else 'FAIL'} {k} {v:.1f} (target <= {TARGETS[k]:.0f}, ratio {v / TARGETS[k]:.2f})")
    print(json.dumps({k: round(v, 1) for k, v in got.items()}))
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
