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
CPUACCT = "/sys/fs/cgroup/cpuacct"


class Meter:
    """CPU seconds of a process tree, through a cgroup-v1 cpuacct group when the machine has one
    (children, and daemons they leave behind such as ssh masters, included); else None."""

    def __init__(self, name: str):
        self.path: str | None = os.path.join(CPUACCT, name) if os.path.isdir(CPUACCT) else None
        if self.path:
            try:
                os.makedirs(self.path, exist_ok=True)
            except OSError:
                self.path = None

    def add(self, pid: int) -> None:
        if self.path:
            with open(os.path.join(self.path, "tasks"), "w") as fh:
                fh.write(str(pid))

    def join(self) -> None:  # preexec_fn: the new process puts itself in the group
        self.add(os.getpid())

    def seconds(self) -> float | None:
        if not self.path:
            return None
        with open(os.path.join(self.path, "cpuacct.usage")) as fh:
            return int(fh.read()) / 1e9

    def remove(self) -> None:
        for _ in range(40):  # ssh masters may linger a moment after doctor
            try:
                if self.path:
                    os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.5)


def machine_cpu() -> float | None:
    """CPU seconds the whole machine has used (all cores, /proc/stat), or None."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()[1:]
        busy = sum(int(x) for i, x in enumerate(fields[:8]) if i not in (3, 4))  # not idle, iowait
        return busy / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None


def doctor(cluster, nodes, client: Meter, sim: Meter) -> dict:
    argv = [sys.executable, "-m", "sparkpilot", "doctor", "--format", "json"]
    if len(nodes) == 1:
        argv += ["--host", nodes[0].ssh_spec]
    else:
        argv += ["--inventory", cluster.inventory(nodes)]
    env = cluster.env()
    if KEX:  # as a user would put it in ~/.ssh/config, before everything else
        wrapper = os.path.join(cluster.dir, "ssh_config_kex")
        with open(wrapper, "w") as fh:
            fh.write(f"KexAlgorithms {KEX}\nInclude {cluster.ssh_config}\n")
        env["SPARKPILOT_SSH_CONFIG"] = wrapper
    before = (client.seconds(), sim.seconds())
    total0 = machine_cpu()
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600,
                          preexec_fn=client.join if client.path else None)
    wall = time.monotonic() - start
    total1 = machine_cpu()
    time.sleep(0.3)  # let the node-side sessions end
    after = (client.seconds(), sim.seconds())
    cpu = [b - a if a is not None and b is not None else None for a, b in zip(before, after, strict=False)]
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = None
        print(f"  doctor exit {proc.returncode}: {proc.stderr.strip()[:300]}", file=sys.stderr)
    other = None  # CPU of everything else on the machine during the run (other people's work)
    if total0 is not None and total1 is not None and cpu[0] is not None and cpu[1] is not None:
        other = max(total1 - total0 - cpu[0] - cpu[1], 0.0)
    return {"wall": wall, "rc": proc.returncode, "report": report, "client_cpu": cpu[0], "sim_cpu": cpu[1],
            "other_cpu": other}


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
    client, sim = Meter(f"sparkpilot-bench-{os.getpid()}"), Meter(f"spk{cluster.slot}-nodes")
    for node in cluster.nodes:  # every session and command on a node descends from its sshd
        assert node.pid is not None
        sim.add(node.pid)
    cores = os.cpu_count() or 1
    try:
        print(f"simulated cluster: {args.nodes} nodes ({cluster.fabric} fabric) started in {started:.2f} s; "
              f"stand-in delays x{args.delay_scale:g} (nvidia-smi {DELAYS['nvidia-smi'] * args.delay_scale:.2f} s, "
              f"apt-mark {DELAYS['apt-mark'] * args.delay_scale:.2f} s, ...); {cores} cores; "
              f"ssh key exchange: {KEX or 'OpenSSH default'}")
        doctor(cluster, cluster.nodes[:1], client, sim)  # warm the page cache of the sparkpilot imports
        runs: dict[int, list[dict]] = {1: [], args.nodes: []}
        for run in range(args.runs):
            for n in (1, args.nodes):
                r = doctor(cluster, cluster.nodes[:n], client, sim)
                report = r["report"] or {}
                checks = sum(len(h["checks"]) for h in report.get("hosts", [])) + \
                    len(report.get("cluster", {}).get("checks", []))
                fails = sorted({c["name"] for h in report.get("hosts", []) for c in h["checks"]
                                if c["status"] in ("fail", "unknown")})
                cpu = "" if r["client_cpu"] is None else \
                    f"  CPU: sparkpilot+ssh {r['client_cpu']:.2f} s, simulated nodes {r['sim_cpu']:.2f} s"
                if r["other_cpu"] is not None:
                    cpu += f", other processes {r['other_cpu']:.2f} s"
                print(f"  run {run + 1}: {n:2d} node(s): {r['wall']:6.2f} s  exit {r['rc']}  {checks} checks{cpu}"
                      + (f"  (fail/unknown: {', '.join(fails)})" if fails else ""))
                runs[n].append(r)
        one = statistics.median(r["wall"] for r in runs[1])
        many = statistics.median(r["wall"] for r in runs[args.nodes])
        ratio = many / one if one else float("inf")
        verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
        print(f"doctor wall time (median of {args.runs}): 1 node {one:.2f} s, {args.nodes} nodes {many:.2f} s, "
              f"ratio {ratio:.2f} (target <= {TARGET_RATIO:g}): {verdict}")
        if client.path:
            cpu1 = statistics.median(r["client_cpu"] + r["sim_cpu"] for r in runs[1])
            cpun = statistics.median(r["client_cpu"] + r["sim_cpu"] for r in runs[args.nodes])
            print(f"CPU per run (median, sparkpilot + ssh + simulated nodes): 1 node {cpu1:.2f} s, "
                  f"{args.nodes} nodes {cpun:.2f} s: on {cores} otherwise idle cores the {args.nodes}-node run "
                  f"needs at least {cpun / cores:.2f} s; the 1-node run is {max(one - cpu1, 0):.2f} s of waiting")
        others = [r["other_cpu"] for n in runs for r in runs[n] if r["other_cpu"] is not None]
        total_wall = sum(r["wall"] for n in runs for r in runs[n])
        if others:   # the load average counts the bench's own processes: measure the others instead
            share = sum(others) / (total_wall * cores)
            print(f"other processes used {sum(others):.1f} s of CPU during the runs ({share:.0%} of the "
                  f"{cores} cores)" + ("; the wall times are pessimistic" if share > 0.05 else ": a quiet machine"))
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        return 1 if args.strict and verdict == "FAIL" else 0
    finally:
        cluster.stop()
        client.remove()
        sim.remove()


if __name__ == "__main__":
    sys.exit(main())
