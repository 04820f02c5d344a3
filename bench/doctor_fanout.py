#!/usr/bin/env python3
"""How `sparkpilot doctor` scales from 1 to 16 Sparks (root needed: it starts the simulated cluster).

Starts 16 healthy simulated nodes (tests/sim: namespaces, real sshd, stand-in tools answering
after realistic delays, e.g. nvidia-smi 0.35 s), then times the full `sparkpilot doctor` (every
probe, every check, the don't-fragment pings between all nodes) on 1 node and on 16 nodes, as a
user runs it (a new process, OpenSSH, connection sharing). Prints the median wall times and their
ratio; the target is a ratio of at most 2 (the waiting, not the two shared cores, dominates).
Cleans up the cluster whatever happens.

    python bench/doctor_fanout.py [--runs 3] [--nodes 16] [--delay-scale 1] [--strict]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

TARGET_RATIO = 2.0
KEX = ""  # --kex: the ssh key exchange the client asks for (default: OpenSSH's own)


def _cpu() -> float:
    """CPU seconds of this process's finished children: doctor and its ssh clients (this side)."""
    import resource

    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def doctor(cluster, nodes, extra=()) -> tuple[float, int, dict | None]:
    argv = [sys.executable, "-m", "sparkpilot", "doctor", "--format", "json", *extra]
    if len(nodes) == 1:
        argv += ["--host", nodes[0].ssh_spec]
    else:
        argv += ["--inventory", cluster.inventory(nodes)]
    start, before = time.monotonic(), _cpu()
    env = cluster.env()
    if KEX:  # as a user would put it in ~/.ssh/config, before everything else
        wrapper = os.path.join(cluster.dir, "ssh_config_kex")
        with open(wrapper, "w") as fh:
            fh.write(f"KexAlgorithms {KEX}\nInclude {cluster.ssh_config}\n")
        env["SPARKPILOT_SSH_CONFIG"] = wrapper
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    wall = time.monotonic() - start
    doctor.cpu = _cpu() - before  # type: ignore[attr-defined]
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = None
        print(f"  doctor exit {proc.returncode}: {proc.stderr.strip()[:300]}", file=sys.stderr)
    return wall, proc.returncode, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per size; the median counts (default 3)")
    parser.add_argument("--nodes", type=int, default=16, help="size of the large cluster (default 16)")
    parser.add_argument("--delay-scale", type=float, default=1.0,
                        help="scale of the stand-in tools' realistic delays (default 1)")
    parser.add_argument("--kex", default="",
                        help="ssh KexAlgorithms for the client, as in ~/.ssh/config (default: OpenSSH's, "
                             "sntrup761x25519 first, ~0.1 s of CPU per connection here); e.g. curve25519-sha256")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    global KEX
    KEX = args.kex

    from sim import Cluster, missing_requirements
    from sim.node import DELAYS

    why = missing_requirements()
    if why:
        print(f"doctor_fanout: skipped: {why}")
        return 0
    t0 = time.monotonic()
    cluster = Cluster.start(["healthy"] * args.nodes, delay_scale=args.delay_scale)
    started = time.monotonic() - t0
    try:
        print(f"simulated cluster: {args.nodes} nodes ({cluster.fabric} fabric) started in {started:.2f} s; "
              f"stand-in delays x{args.delay_scale:g} (nvidia-smi {DELAYS['nvidia-smi'] * args.delay_scale:.2f} s, "
              f"apt-mark {DELAYS['apt-mark'] * args.delay_scale:.2f} s, ...); {os.cpu_count()} cores; "
              f"ssh key exchange: {KEX or 'OpenSSH default'}")
        doctor(cluster, cluster.nodes[:1])  # warm the page cache of the sparkpilot imports
        times: dict[int, list[float]] = {1: [], args.nodes: []}
        for run in range(args.runs):
            for n in (1, args.nodes):
                wall, rc, report = doctor(cluster, cluster.nodes[:n])
                checks = sum(len(h["checks"]) for h in report["hosts"]) + len(report["cluster"]["checks"]) \
                    if report else 0
                fails = [c["name"] for h in (report or {}).get("hosts", []) for c in h["checks"]
                         if c["status"] in ("fail", "unknown")]
                print(f"  run {run + 1}: {n:2d} node(s): {wall:6.2f} s  exit {rc}  {checks} checks  "
                      f"(sparkpilot + ssh CPU {doctor.cpu:.2f} s)"
                      + (f"  (fail/unknown: {', '.join(sorted(set(fails)))})" if fails else ""))
                times[n].append(wall)
        one, many = statistics.median(times[1]), statistics.median(times[args.nodes])
        ratio = many / one if one else float("inf")
        verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
        print(f"doctor wall time (median of {args.runs}): 1 node {one:.2f} s, {args.nodes} nodes {many:.2f} s, "
              f"ratio {ratio:.2f} (target <= {TARGET_RATIO:g}): {verdict}")
        load = os.getloadavg()[0]
        if load > (os.cpu_count() or 1) * 1.5:
            print(f"note: load average {load:.1f} on {os.cpu_count()} cores: other work shares the CPU; "
                  f"the figures are pessimistic")
        return 1 if args.strict and verdict == "FAIL" else 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
