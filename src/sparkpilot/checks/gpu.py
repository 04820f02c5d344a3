"""gpu-idle: nothing else computes on the GPU (the Processes section of plain `nvidia-smi`).

A compute process (type C) holds unified memory and GPU time that vLLM's budget counts on: up's
pre-flight refuses while one runs. A process that both draws and computes (C+G) is, on the real
tables seen, a desktop component (gnome-remote-desktop-daemon, 20 MiB): a warning, never blocking.
Graphics processes (Xorg, gnome-shell of the desktop) hold a few hundred MiB: a pass with a note.
memory-budget sees the memory; this check names who holds the GPU.
"""

from __future__ import annotations

from typing import Any

from sparkpilot.checks import CheckResult, unknown

SPARKPILOT_DOWN = "sparkpilot down NAME"


def _row(p: Any) -> str:
    mem = f", {p.memory_mib / 1024:.1f} GiB" if p.memory_mib is not None and p.memory_mib >= 1024 else (
        f", {p.memory_mib:.0f} MiB" if p.memory_mib is not None else "")
    return f"pid {p.pid} {p.name} (type {p.type}{mem})"


def check_gpu_idle(facts: Any) -> CheckResult:
    procs = facts.get("gpu-processes")
    if not procs:
        return unknown(procs)
    rows = [{"pid": p.pid, "name": p.name, "type": p.type, "memory_mib": p.memory_mib} for p in procs.processes]
    data: dict[str, Any] = {"processes": rows}
    graphics = procs.graphics
    compute = [p for p in procs.compute if p.type == "C"]
    mixed = [p for p in procs.compute if p.type != "C"]
    if compute:
        held = sum(p.memory_mib or 0 for p in compute) / 1024
        pids = " ".join(str(p.pid) for p in compute)
        return CheckResult(
            "fail", f"the GPU is not idle: {len(compute)} compute process(es) on it: "
                    + "; ".join(_row(p) for p in compute)
                    + (f" ({held:.1f} GiB of unified memory in all)" if held and len(compute) > 1 else ""),
            f"stop it (kill {pids}, or stop its container: docker ps); if it is a sparkpilot deployment, "
            f"`{SPARKPILOT_DOWN}` (`sparkpilot status` names it)", data=data)
    if mixed:
        return CheckResult(
            "warn", "no compute-only process on the GPU; graphics and compute (C+G, usually a desktop component): "
                    + "; ".join(_row(p) for p in mixed),
            "fine when it is the desktop's (a remote desktop daemon); stop it if it is a CUDA program", data=data)
    if graphics:
        held = sum(p.memory_mib or 0 for p in graphics)
        return CheckResult("pass", "no compute process on the GPU; graphics only: "
                           + ", ".join(f"{p.name} ({p.pid})" for p in graphics)
                           + f": the desktop holds {held:.0f} MiB of unified memory", data=data)
    return CheckResult("pass", "no process on the GPU (nvidia-smi: no running processes found)", data=data)
