#!/usr/bin/env python3
"""How fast sparkpilot starts: cold `sparkpilot --help` and `sparkpilot lint -- <a typical launch>`,
each the median of N new processes, and the ratio to sparkrun's `sparkrun --help`.

Targets (issue 2): each median <= 0.15 s here, and sparkpilot --help / sparkrun --help <= 0.25.
Prints the figures and PASS/FAIL per target; exits 0 unless --strict and a target fails.

  python bench/cli_speed.py                    # 15 runs each
  python bench/cli_speed.py --runs 31 --strict
  python bench/cli_speed.py --importtime       # also: which imports cost most in `lint`

sparkpilot: --sparkpilot PATH, else the repo's .venv (made by tests/run.sh), else a venv of its own
in /tmp/sparkpilot-bench-venv (`pip install -e .`), as a user's install would be: the machine's
base Python may load site-wide .pth files that cost tens of ms at every start.
sparkrun 0.4.2 needs Python 3.12: --sparkrun PATH, else
/tmp/sparkrun-venv/bin/sparkrun, made when missing with pyenv's 3.12
(`python3.12 -m venv /tmp/sparkrun-venv && pip install sparkrun==0.4.2`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPARKRUN_VENV = Path("/tmp/sparkrun-venv")
SPARKPILOT_VENV = Path("/tmp/sparkpilot-bench-venv")
SPARKRUN_VERSION = "0.4.2"
TARGET_SECONDS = 0.15
TARGET_RATIO = 0.25
# A typical single-Spark launch (the reference's gpt-oss-120b settings).
LINT_LAUNCH = ["vllm", "serve", "openai/gpt-oss-120b", "--gpu-memory-utilization", "0.85",
               "--max-model-len", "65536", "--moe-backend", "marlin", "--attention-backend", "TRITON_ATTN",
               "--kv-cache-dtype", "fp8", "--max-cudagraph-capture-size", "2048",
               "--enable-prefix-caching", "--port", "8000"]


def find_sparkpilot(given: str | None) -> tuple[list[str], str]:
    if given:
        return [given], "given"
    venv = ROOT / ".venv" / "bin" / "sparkpilot"
    if venv.exists():
        return [str(venv)], "the repo's .venv"
    exe = SPARKPILOT_VENV / "bin" / "sparkpilot"
    if not exe.exists():
        print(f"setting up sparkpilot in {SPARKPILOT_VENV} ...", file=sys.stderr)
        for step in ([sys.executable, "-m", "venv", str(SPARKPILOT_VENV)],
                     [str(SPARKPILOT_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "-e", str(ROOT)]):
            if subprocess.run(step, capture_output=True).returncode != 0:
                break
    if exe.exists():
        return [str(exe)], f"own venv {SPARKPILOT_VENV}"
    beside = Path(sys.executable).parent / "sparkpilot"  # not the pyenv shim, which adds ~50 ms of bash
    if beside.exists():
        return [str(beside)], "console script of this Python (venv set-up failed)"
    return [sys.executable, "-m", "sparkpilot"], "python -m (venv set-up failed)"


def _python312() -> str | None:
    if shutil.which("pyenv"):
        out = subprocess.run(["pyenv", "prefix", "3.12"], capture_output=True, text=True)
        prefix = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
        if prefix and (Path(prefix) / "bin" / "python").exists():
            return str(Path(prefix) / "bin" / "python")
    return shutil.which("python3.12")


def find_sparkrun(given: str | None) -> tuple[list[str] | None, str]:
    """The sparkrun command, set up in its own venv when missing; (None, why) when it cannot be."""
    if given:
        return [given], "given"
    exe = SPARKRUN_VENV / "bin" / "sparkrun"
    if not exe.exists():
        py = _python312()
        if py is None:
            return None, "no Python 3.12 (pyenv install 3.12) for sparkrun"
        print(f"setting up sparkrun=={SPARKRUN_VERSION} in {SPARKRUN_VENV} ...", file=sys.stderr)
        steps = [[py, "-m", "venv", str(SPARKRUN_VENV)],
                 [str(SPARKRUN_VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                  f"sparkrun=={SPARKRUN_VERSION}"]]
        for step in steps:
            if not (step[1:3] == ["-m", "venv"] and (SPARKRUN_VENV / "bin" / "python").exists()):
                r = subprocess.run(step, capture_output=True, text=True)
                if r.returncode != 0:
                    tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["?"]
                    return None, f"setting up sparkrun failed: {tail[0]}"
        if not exe.exists():
            return None, "sparkrun was installed but has no console script"
    return [str(exe)], f"sparkrun {SPARKRUN_VERSION} in {SPARKRUN_VENV}"


def _child_cpu() -> float:
    try:
        import resource
    except ImportError:
        return float("nan")
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_once(argv: list[str]) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds of the child, exit code, stderr) of one new process."""
    env = dict(os.environ, NO_COLOR="1", COLUMNS="100")
    # as after a pip install: bytecode caches may be written (the warm-up run writes them)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    c0, t0 = _child_cpu(), time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                       stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0, _child_cpu() - c0, p.returncode, p.stderr.decode(errors="replace")


def measure(cases: dict[str, list[str]], runs: int) -> dict[str, dict]:
    """Median of `runs` new processes per case, interleaved so that load on the machine hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in cases}
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    status: dict[str, tuple[int, str]] = {}
    for name, argv in cases.items():  # one warm-up each: the page cache, not the interpreter
        _, _, rc, err = run_once(argv)
        status[name] = (rc, err)
    for _ in range(runs):
        for name, argv in cases.items():
            dt, dc, rc, err = run_once(argv)
            times[name].append(dt)
            cpu[name].append(dc)
            status[name] = (rc, err)
    return {k: {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": len(v),
                "cpu_median": statistics.median(cpu[k]),
                "exit": status[k][0], "stderr": status[k][1].strip().splitlines()[-1:] or [""]}
            for k, v in times.items()}


def importtime(python: str, argv_after_python: list[str], top: int = 12) -> list[tuple[int, int, str]]:
    """(self µs, cumulative µs, module) of the costliest imports, from python -X importtime."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    p = subprocess.run([python, "-X", "importtime", *argv_after_python], env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    rows = []
    for line in p.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            parts = line[len("import time:"):].split("|")
            try:
                rows.append((int(parts[0]), int(parts[1]), parts[2].rstrip()))
            except ValueError:
                continue
    return sorted(rows, key=lambda r: -r[0])[:top]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="cold start of sparkpilot vs sparkrun")
    ap.add_argument("--runs", type=int, default=15, help="new processes per command (default 15)")
    ap.add_argument("--sparkpilot", help="the sparkpilot command to time")
    ap.add_argument("--sparkrun", help="the sparkrun command (default: set up in /tmp/sparkrun-venv)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    ap.add_argument("--importtime", action="store_true", help="list the costliest imports of lint")
    ap.add_argument("--format", choices=("text", "json"), default="text")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="S",
                    help="first wait up to S seconds for the 1-minute load average to drop below the CPU count")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be >= 1")

    cpus = os.cpu_count() or 1
    deadline = time.time() + args.wait_idle
    while hasattr(os, "getloadavg") and os.getloadavg()[0] >= cpus and time.time() < deadline:
        time.sleep(5)
    sp, sp_note = find_sparkpilot(args.sparkpilot)
    sr, sr_note = find_sparkrun(args.sparkrun)
    cases = {"sparkpilot --help": sp + ["--help"],
             "sparkpilot lint -- <launch>": sp + ["lint", "--", *LINT_LAUNCH]}
    if sr:
        cases["sparkrun --help"] = sr + ["--help"]
    res = measure(cases, args.runs)

    checks = []
    for name in ("sparkpilot --help", "sparkpilot lint -- <launch>"):
        r = res[name]
        ok_exit = r["exit"] in (0, 1)  # lint exits 1 when it finds error-level findings
        ok = ok_exit and r["median"] <= TARGET_SECONDS
        checks.append({"target": f"{name} median <= {TARGET_SECONDS} s", "value": round(r["median"], 4),
                       "result": "PASS" if ok else "FAIL",
                       "note": "" if ok_exit else f"exit {r['exit']}: {r['stderr'][0]}"})
    if sr and res["sparkrun --help"]["exit"] == 0:
        ratio = res["sparkpilot --help"]["median"] / res["sparkrun --help"]["median"]
        checks.append({"target": f"sparkpilot --help / sparkrun --help <= {TARGET_RATIO}",
                       "value": round(ratio, 3), "result": "PASS" if ratio <= TARGET_RATIO else "FAIL", "note": ""})
        lint_ratio = res["sparkpilot lint -- <launch>"]["median"] / res["sparkrun --help"]["median"]
        checks.append({"target": f"sparkpilot lint / sparkrun --help <= {TARGET_RATIO}",
                       "value": round(lint_ratio, 3), "result": "PASS" if lint_ratio <= TARGET_RATIO else "FAIL",
                       "note": ""})
    else:
        why = sr_note if not sr else f"sparkrun --help exit {res['sparkrun --help']['exit']}"
        checks.append({"target": f"sparkpilot --help / sparkrun --help <= {TARGET_RATIO}", "value": None,
                       "result": "FAIL", "note": f"not measured: {why}"})

    venv_python = Path(sp[0]).parent / "python"
    python = str(venv_python) if venv_python.exists() else sys.executable
    imports = importtime(python, ["-m", "sparkpilot", "lint", "--", *LINT_LAUNCH]) if args.importtime else []
    if args.format == "json":
        commands = {k: {**v, "argv": cases[k]} for k, v in res.items()}
        print(json.dumps({"sparkpilot": sp_note, "sparkrun": sr_note, "commands": commands,
                          "checks": checks, "imports": imports}, indent=1))
    else:
        print(f"sparkpilot: {' '.join(sp)} ({sp_note})")
        print(f"sparkrun:   {' '.join(sr) if sr else '-'} ({sr_note})")
        print(f"typical launch: {' '.join(LINT_LAUNCH)}")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"each: median of {args.runs} new processes (after one warm-up run that also writes the "
              f"bytecode caches, as pip install does), interleaved; "
              f"load average {load:.1f} on {cpus} CPUs")
        if load >= cpus:
            print("note: the machine was busy while measuring: the figures are noisy (try --wait-idle 300)")
        print()
        print(f"{'command':<30} {'median':>8} {'min':>8} {'max':>8} {'cpu':>8}  exit")
        for k, v in res.items():
            print(f"{k:<30} {v['median']:>7.3f}s {v['min']:>7.3f}s {v['max']:>7.3f}s "
                  f"{v['cpu_median']:>7.3f}s  {v['exit']}")
        print("(median, min, max: wall time; cpu: median user+sys CPU time of the process)")
        print()
        for c in checks:
            val = "-" if c["value"] is None else c["value"]
            print(f"{c['result']:<5} {c['target']}: {val}{'  (' + c['note'] + ')' if c['note'] else ''}")
        if imports:
            print("\ncostliest imports of `python -m sparkpilot lint` (self µs, cumulative µs):")
            for self_us, cum_us, mod in imports:
                print(f"  {self_us:>7} {cum_us:>8}  {mod}")
    failed = any(c["result"] == "FAIL" for c in checks)
    return 1 if (failed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
