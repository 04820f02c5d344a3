#!/usr/bin/env python3
"""What watching costs (root needed: it starts a simulated pair, tests/sim).

Two simulated Sparks (real sshd in namespaces, the stand-in nvidia-smi answering after its 0.35 s
delay), watched at 1 Hz for --seconds:
  1. the headless collector (`sparkpilot watch --headless`): CPU of the sparkpilot process alone,
     of its ssh clients apart, and on each node the CPU of its ONE streamed sampler (the remote
     `sh` loop and everything it ran: nvidia-smi's own loop, cat, grep), per node;
  2. the TUI (`sparkpilot watch` under tmux): the sparkpilot process, reported apart;
  3. the exporter's scrape: wall time of GET /metrics (median of --scrapes).
CPU is read from /proc (utime+stime and reaped children's cutime+cstime) before and after.
Target: the headless sparkpilot process at most 1% of one core.

    python bench/monitor_cost.py [--seconds 60] [--scrapes 50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
SPARKPILOT = os.path.join(os.path.dirname(sys.executable), "sparkpilot")
TICK = os.sysconf("SC_CLK_TCK")
TARGET = 0.01


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def cpu(pid: int, children: bool = False) -> float:
    """CPU seconds of a process (with its reaped children when asked)."""
    s = _stat(pid)
    if s is None:
        return 0.0
    ticks = int(s[11]) + int(s[12]) + ((int(s[13]) + int(s[14])) if children else 0)
    return ticks / TICK


def pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def session_cpu(sid: int) -> float:
    """Every live process of a session, each with its reaped children (the sampler's whole tree)."""
    total = 0.0
    for p in pids():
        s = _stat(p)
        if s and int(s[3]) == sid:
            total += cpu(p, children=True)
    return total


def samplers() -> dict[str, int]:
    """node dir -> session id of its sampler (the remote `sh -c` holding the sampler script)."""
    out = {}
    for p in pids():
        line = cmdline(p)
        if "sparkpilot-watch" in line and line.startswith("sh -c"):
            s = _stat(p)
            try:
                env = open(f"/proc/{p}/environ", "rb").read().split(b"\0")
            except OSError:
                continue
            root = next((e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"SPARKPILOT_HOST_ROOT=")), "?")
            if s and int(s[3]) == p:      # the session leader: the top of the sampler's tree
                out[root] = p
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_headless(env: dict, inv: str, seconds: float) -> dict:
    proc = subprocess.Popen([SPARKPILOT, "watch", "--inventory", inv, "--headless"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(8)                                   # connections up, first frames in
    found = samplers()
    # the ssh clients: the streams and their ControlMaster (daemonized, so not a child): this cluster's config
    ssh = [p for p in pids() if cmdline(p).startswith("ssh ") and env["SPARKPILOT_SSH_CONFIG"] in cmdline(p)]
    t0, c0 = time.monotonic(), cpu(proc.pid)
    s0 = {p: cpu(p) for p in ssh}
    n0 = {root: session_cpu(sid) for root, sid in found.items()}
    time.sleep(seconds)
    wall = time.monotonic() - t0
    c1 = cpu(proc.pid)
    s1 = sum(cpu(p) - s0[p] for p in ssh if _stat(p) is not None)
    n1 = {root: session_cpu(sid) - n0[root] for root, sid in found.items()}
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=15)
    return {"wall": wall, "sparkpilot": (c1 - c0) / wall, "ssh": s1 / wall, "ssh_procs": len(ssh),
            "nodes": {os.path.basename(os.path.dirname(r)): v / wall for r, v in n1.items()}}


def measure_tui(env: dict, inv: str, seconds: float) -> float | None:
    if not shutil.which("tmux"):
        return None
    name = f"spk-bench-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "200", "-y", "50", "env", "-u", "COLUMNS",
                    f"SPARKPILOT_SSH_CONFIG={env['SPARKPILOT_SSH_CONFIG']}", SPARKPILOT, "watch", "--inventory", inv],
                   check=True)
    try:
        time.sleep(8)
        pid = next(p for p in pids() if f"{SPARKPILOT} watch --inventory" in cmdline(p)
                   and "--headless" not in cmdline(p) and not cmdline(p).startswith(("tmux", "env")))
        t0, c0 = time.monotonic(), cpu(pid)
        time.sleep(seconds)
        return (cpu(pid) - c0) / (time.monotonic() - t0)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)


def measure_scrape(env: dict, inv: str, scrapes: int) -> tuple[float, int]:
    port = free_port()
    proc = subprocess.Popen([SPARKPILOT, "exporter", "--inventory", inv, "--port", str(port), "--listen", "127.0.0.1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(8)
        times, size = [], 0
        for _ in range(scrapes):
            t = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                size = len(r.read())
            times.append(time.perf_counter() - t)
            time.sleep(0.1)
        return statistics.median(times), size
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--scrapes", type=int, default=50)
    args = ap.parse_args()
    from sim import Cluster, missing_requirements

    why = missing_requirements()
    if why:
        print(f"cannot start the simulated cluster: {why}")
        return 2
    cluster = Cluster.start(["healthy", "healthy"])
    try:
        env, inv = cluster.env(), cluster.inventory()
        h = measure_headless(env, inv, args.seconds)
        tui = measure_tui(env, inv, args.seconds)
        scrape, size = measure_scrape(env, inv, args.scrapes)
    finally:
        cluster.stop()
    print(f"watching 2 simulated Sparks at 1 Hz for {h['wall']:.0f} s (one streamed sampler per node, one ssh each):")
    print(f"  sparkpilot process (headless)  {100 * h['sparkpilot']:.2f}% of a core   target <= {100 * TARGET:.0f}%"
          f"   ratio {h['sparkpilot'] / TARGET:.2f}  {'PASS' if h['sparkpilot'] <= TARGET else 'FAIL'}")
    print(f"  its ssh clients                {100 * h['ssh']:.2f}% of a core ({h['ssh_procs']} processes: streams and "
          f"ControlMasters, apart; /proc counts in {1000 // TICK} ms ticks)")
    for node, v in sorted(h["nodes"].items()):
        print(f"  sampler on {node:<18} {100 * v:.2f}% of a core (the node's sh loop and all it runs)")
    if tui is not None:
        print(f"  TUI (rich Live, 1 refresh/s)   {100 * tui:.2f}% of a core (apart; on top of the collector)")
    print(f"  exporter scrape                {1000 * scrape:.1f} ms median over {args.scrapes} GETs, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
