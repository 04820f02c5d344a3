"""Host checks: what the Spark is, its driver and stack, its memory, its temperatures."""

from __future__ import annotations

import re
from typing import Any

from sparkpilot import versions
from sparkpilot.checks import CheckResult, unknown

GIB_KB = 1024 * 1024

# The reference's "Software stack" table (reference/dgx-spark-sm121.txt). A different major or
# minor series warns; patch levels pass. The driver is judged by driver-version (any 580.x).
REFERENCE_STACK: dict[str, str | tuple[str, str]] = {
    "os": ("Ubuntu", "24.04.4"),
    "kernel": "6.17.0-1014-nvidia",
    "driver": "580.142",
    "cuda": "13.0",
    "docker": "29.2.1",
    "nvidia-container-toolkit": "1.19.0-1",
}
# CUDA a driver branch supports (nvidia-smi's "CUDA Version" is the authority when it is known)
DRIVER_CUDA = {"580": "13.0", "590": "13.1"}


def gpu(facts: Any):
    q = facts.get("nvidia-smi")
    if not q:
        return q
    return q.gpus[0] if q.gpus else None


def check_gb10(facts: Any) -> CheckResult:
    g = gpu(facts)
    what = _what_is_it(facts)
    if not g:
        reason = getattr(g, "reason", "no GPU rows")
        if "not installed" in reason:
            return CheckResult("fail", f"not a GB10: no NVIDIA GPU driver ({reason}); this is {what}",
                               data={"gpu": None, "system": what})
        return unknown(g, system=what)
    data = {"gpu": g.name, "compute_cap": g.compute_cap, "system": what}
    if g.name and "GB10" in g.name:
        cap = f", compute capability {g.compute_cap} (SM121)" if g.compute_cap else ""
        if g.compute_cap and g.compute_cap != "12.1":
            return CheckResult("warn", f"{g.name} reports compute capability {g.compute_cap}, not 12.1", data=data)
        return CheckResult("pass", f"{g.name}{cap}", data=data)
    return CheckResult("fail", f"not a GB10: the GPU is {g.name or 'unknown'}"
                       f"{' (compute capability ' + g.compute_cap + ')' if g.compute_cap else ''}; this is {what}",
                       data=data)


def _what_is_it(facts: Any) -> str:
    parts = []
    osr = facts.get("os-release")
    if osr:
        parts.append(osr.pretty_name or osr.name or "Linux")
    k = facts.get("kernel")
    if k:
        parts.append(f"kernel {k.release}")
    mem = facts.get("meminfo")
    if mem:
        parts.append(f"{mem.mem_total_kb / GIB_KB:.0f} GiB RAM")
    return ", ".join(parts) or "an unknown system"


def driver_version(facts: Any) -> Any:
    """The running driver (nvidia-smi), else the installed driver package's version."""
    g = gpu(facts)
    if g and g.driver_version:
        return g.driver_version
    perf = facts.get("nvidia-smi-perf")
    if perf and perf.driver_version:
        return perf.driver_version
    pk = facts.get("packages")
    if pk:
        drivers = [p for p in pk.driver_packages() if p.name.startswith("nvidia-driver-")]
        if drivers:
            return drivers[0].upstream
    q = facts.get("nvidia-smi")
    if not q:
        return q
    from sparkpilot.facts import NA

    return NA("nvidia-smi printed no driver version")


def check_driver_version(facts: Any) -> CheckResult:
    v = driver_version(facts)
    if not isinstance(v, str):
        return unknown(v if v is not None else "no driver version found")
    m = re.match(r"(\d+)\.", v)
    branch = int(m.group(1)) if m else 0
    data = {"driver": v, "branch": branch}
    if branch == 580:
        return CheckResult("pass", f"driver {v} (580 branch)", data=data)
    if branch >= 590:
        return CheckResult("fail", f"driver {v}: 590.x has a confirmed CUDAGraph deadlock on GB10; stay on 580.x",
                           "install the 580 driver (sudo apt install nvidia-driver-580-open) and hold it",
                           data=data)
    return CheckResult("warn", f"driver {v} is older than the 580 branch the reference validates", data=data)


def check_driver_held(facts: Any) -> CheckResult:
    pk, holds = facts.get("packages"), facts.get("apt-holds")
    if not pk:
        return unknown(pk)
    drivers = [p for p in pk.driver_packages() if p.name.startswith(("nvidia-driver-", "nvidia-dkms-"))]
    if not drivers:
        return CheckResult("skip", "no nvidia-driver package installed through apt", data={"packages": []})
    held_by_status = {p.name for p in drivers if p.status.startswith("h")}
    held = set(holds.packages) if holds else set()
    held |= held_by_status
    names = [p.name for p in drivers]
    loose = [n for n in names if n not in held]
    data = {"packages": names, "held": sorted(held & set(names))}
    if not holds and not held_by_status:
        return unknown(holds, **data)
    if not loose:
        return CheckResult("pass", f"held: {', '.join(names)}", data=data)
    if not all(re.search(r"-580(-|$)", n) for n in loose):
        return CheckResult("warn", f"not held: {', '.join(loose)}; install the 580 driver first, then hold it",
                           "sudo apt install nvidia-driver-580-open && sudo apt-mark hold nvidia-driver-580-open",
                           data=data)
    return CheckResult("warn", f"not held: {', '.join(loose)} (an apt upgrade can move the driver to 590.x)",
                       f"sudo apt-mark hold {' '.join(loose)}", data=data,
                       commands=[["sudo", "-n", "apt-mark", "hold", *loose]])


def stack(facts: Any) -> dict[str, Any]:
    """OS, kernel, driver, CUDA, Docker, toolkit and image CUDA versions (values or NA)."""
    out: dict[str, Any] = {}
    osr = facts.get("os-release")
    out["os"] = f"{osr.name} {osr.point_release}" if osr else osr
    k = facts.get("kernel")
    out["kernel"] = k.release if k else k
    out["driver"] = driver_version(facts)
    perf = facts.get("nvidia-smi-perf")
    out["cuda"] = perf.cuda_version if perf and perf.cuda_version else (perf if not perf else None)
    d = facts.get("docker")
    if d:
        out["docker"] = d.server or d.client
    else:
        pk = facts.get("packages")
        p = pk.get("docker-ce") if pk else None
        out["docker"] = p.upstream if p else d
    c = facts.get("nvidia-ctk")
    if c:
        out["nvidia-container-toolkit"] = c.version
    else:
        pk = facts.get("packages")
        p = pk.get("nvidia-container-toolkit") if pk else None
        out["nvidia-container-toolkit"] = p.version if p else c
    if "image-cuda" in facts.results:
        img = facts.get("image-cuda")
        out["image_cuda"] = (img.cuda_version or None) if img else img
    return out


# what to do when one component of the stack is off the reference's series
STACK_FIX = {
    "os": "DGX OS on Ubuntu 24.04 is the reference: sudo apt update && sudo apt full-upgrade",
    "kernel": "take the 6.17 NVIDIA kernel of DGX OS (sudo apt update && sudo apt full-upgrade, then reboot)",
    "cuda": "the host's CUDA follows the driver: stay on a 580 driver (CUDA 13.0)",
    "docker": "move Docker CE to the 29.x series (`apt list -a docker-ce` shows the versions; "
              "sudo apt install docker-ce=<29.x version>)",
    "nvidia-container-toolkit": "move the NVIDIA Container Toolkit to the 1.19 series (`apt list -a "
                                "nvidia-container-toolkit`; sudo apt install nvidia-container-toolkit=<1.19 version>)",
    "image": "use an image whose CUDA the 580 driver supports (CUDA 13.0, e.g. nvcr.io/nvidia/vllm:26.04-py3 "
             "per the reference), or a driver that supports the image's CUDA (not 590.x on GB10)",
}


def _stack_fix(keys: list[str]) -> str | None:
    return "; ".join(STACK_FIX[k] for k in keys if k in STACK_FIX) or None


def _not_a_spark(facts: Any) -> str | None:
    """What the host is, when it is known not to be a GB10 (no NVIDIA driver, or another GPU)."""
    g = gpu(facts)
    if g:
        return None if g.name and "GB10" in g.name else f"its GPU is {g.name or 'not a GB10'}"
    reason = getattr(g, "reason", "")
    return f"no NVIDIA driver ({reason})" if "not installed" in reason else None


# components whose newer series are fine (tools outside the GPU path); an older one is still a warning.
# CUDA follows the driver (a newer CUDA means a 590 driver: driver-version), the OS and kernel are DGX OS's.
NEWER_IS_FINE = ("docker", "nvidia-container-toolkit")


def _newer(v: str, ref: str) -> bool:
    return versions.order(v, 2) > versions.order(ref, 2)


def check_stack_versions(facts: Any) -> CheckResult:
    s = stack(facts)
    data: dict[str, Any] = {k: (v if isinstance(v, str) else None) for k, v in s.items()}
    data["reference"] = dict(REFERENCE_STACK)
    other = _not_a_spark(facts)
    if other:
        # the reference stack is a GB10's: on another machine its versions are for information only
        shown = ", ".join(f"{k} {v}" for k, v in s.items() if isinstance(v, str))
        return CheckResult("skip", f"not a DGX Spark ({other}): the reference stack's versions are for GB10 hosts"
                           + (f"; here: {shown}" if shown else ""), data=data)
    warns, unknowns, fails, newer = [], [], [], []
    off: list[str] = []                          # components off the reference series
    for key, ref in REFERENCE_STACK.items():
        v = s.get(key)
        if key == "driver":
            continue
        if not isinstance(v, str):
            unknowns.append(f"{key} unknown ({getattr(v, 'reason', 'not found')})")
            continue
        ref_v = ref[1] if isinstance(ref, tuple) else ref
        if key == "os":
            if not v.startswith(ref[0]) or versions.series(v.split()[-1]) != versions.series(ref_v):
                warns.append(f"OS {v} (reference {ref[0]} {ref_v})")
                off.append(key)
        elif versions.series(v) != versions.series(ref_v) and _newer(v, ref_v) and key in NEWER_IS_FINE:
            newer.append(f"{key} {v} (newer than the reference {ref_v})")   # no downgrade advice
        elif versions.series(v) != versions.series(ref_v):
            warns.append(f"{key} {v} (reference {ref_v})")
            off.append(key)
    img = s.get("image_cuda")
    drv_cuda = s.get("cuda") if isinstance(s.get("cuda"), str) else None
    drv = s.get("driver")
    if drv_cuda is None and isinstance(drv, str):
        drv_cuda = DRIVER_CUDA.get(drv.split(".")[0])
    if isinstance(img, str) and drv_cuda:
        if versions.order(img, 2) > versions.order(drv_cuda, 2):
            fails.append(f"the image needs CUDA {img} but the driver supports CUDA {drv_cuda} (CUDA 13.0 needs a 580 driver)")
            off.insert(0, "image")
    elif "image_cuda" in s and not isinstance(img, str):
        unknowns.append(f"image CUDA unknown ({getattr(img, 'reason', 'no CUDA_VERSION in the image environment')})")
    if fails:
        return CheckResult("fail", "; ".join(fails + warns), fix=_stack_fix(off), data=data)
    if warns:
        return CheckResult("warn", "differs from the reference stack: " + "; ".join(warns + newer)
                           + ("; " + "; ".join(unknowns) if unknowns else ""), fix=_stack_fix(off), data=data)
    known = [k for k in REFERENCE_STACK if isinstance(s.get(k), str)]
    if not known or len(unknowns) >= 4:
        return CheckResult("unknown", "; ".join(unknowns) or "no versions found", data=data)
    msg = "matches the reference series: " + ", ".join(f"{k} {s[k]}" for k in known if k != "driver"
                                                        and not any(n.startswith(f"{k} ") for n in newer))
    if newer:
        msg += "; " + "; ".join(newer)
    if unknowns:
        msg += "; " + "; ".join(unknowns)
    return CheckResult("pass", msg, data=data)


DROP_CACHES = ["sudo", "-n", "sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"]


def check_page_cache(facts: Any) -> CheckResult:
    mem = facts.get("meminfo")
    if not mem:
        return unknown(mem)
    cache = mem.page_cache_kb
    if cache is None:
        return unknown("no Cached line in /proc/meminfo")
    share = cache / mem.mem_total_kb
    data = {"page_cache_gib": round(cache / GIB_KB, 1), "mem_total_gib": round(mem.mem_total_kb / GIB_KB, 1),
            "share": round(share, 3)}
    text = f"page cache {cache / GIB_KB:.1f} GiB ({share:.0%} of {mem.mem_total_kb / GIB_KB:.1f} GiB unified memory)"
    fix = "sudo sh -c 'sync; echo 3 > /proc/sys/vm/drop_caches'"
    if share > 0.40:
        return CheckResult("fail", text + ": CUDA competes with it for the same memory and can hit OOM at start-up",
                           fix, data, [DROP_CACHES])
    if share > 0.15:
        return CheckResult("warn", text + ": drop it before starting vLLM", fix, data, [DROP_CACHES])
    return CheckResult("pass", text, data=data)


def start_utilization(available: float, total: float) -> float:
    """The --gpu-memory-utilization that starts with what is available now (memory-budget's figure;
    `sparkpilot plan --host` prints the same one)."""
    return min(0.87, int(available / total * 100) / 100) if total else 0.0


def check_memory_budget(facts: Any) -> CheckResult:
    mem = facts.get("meminfo")
    if not mem:
        return unknown(mem)
    if mem.mem_available_kb is None:
        return unknown("no MemAvailable line in /proc/meminfo")
    total, avail = mem.mem_total_kb, mem.mem_available_kb
    free = mem.mem_free_kb
    share = avail / total
    util = start_utilization(avail, total)
    data = {"mem_total_gib": round(total / GIB_KB, 1), "mem_available_gib": round(avail / GIB_KB, 1),
            "mem_free_gib": round(free / GIB_KB, 1) if free is not None else None,
            "max_gpu_memory_utilization": util}
    swap_used = None
    if mem.swap_total_kb is not None and mem.swap_free_kb is not None:
        swap_used = mem.swap_total_kb - mem.swap_free_kb
        data["swap_used_gib"] = round(swap_used / GIB_KB, 1)
    text = (f"{avail / GIB_KB:.1f} GiB of {total / GIB_KB:.1f} GiB available to vLLM"
            f" -> --gpu-memory-utilization at most {util:.2f}")
    if share >= 0.85:
        return CheckResult("pass", text + " (0.85-0.87 is the safe range)", data=data)
    if share >= 0.5:
        return CheckResult("warn", text + f": other processes hold {(total - avail) / GIB_KB:.1f} GiB",
                           "stop other GPU/CPU memory users or lower --gpu-memory-utilization to the figure shown",
                           data=data)
    return CheckResult("fail", text + f": other processes hold {(total - avail) / GIB_KB:.1f} GiB",
                       "stop the processes that hold memory before starting vLLM", data=data)


GPU_HOT_C, CPU_HOT_C = 75.0, 65.0


def check_thermals(facts: Any) -> CheckResult:
    g = gpu(facts)
    perf = facts.get("nvidia-smi-perf")
    zones, teg = facts.get("thermal"), facts.get("tegrastats")
    gpu_c = g.temperature_c if g else None
    cpu_c = teg.cpu_c if teg else None
    if cpu_c is None and zones and zones.zones:
        cpu_c = zones.cpu_c
    throttle = perf.throttling if perf else []
    data = {"gpu_c": gpu_c, "cpu_c": cpu_c, "throttle_reasons": throttle,
            "limits": {"gpu_c": GPU_HOT_C, "cpu_c": CPU_HOT_C}}
    if gpu_c is None and cpu_c is None and not perf:
        reasons = [getattr(x, "reason", None) for x in (g, zones, teg)]
        return unknown("; ".join(r for r in reasons if r) or "no temperature source", **data)
    parts = []
    if gpu_c is not None:
        parts.append(f"GPU {gpu_c:.0f} C")
    if cpu_c is not None:
        parts.append(f"CPU {cpu_c:.0f} C")
    text = ", ".join(parts) or "temperatures unknown"
    hot = []
    if gpu_c is not None and gpu_c > GPU_HOT_C:
        hot.append(f"GPU above {GPU_HOT_C:.0f} C")
    if cpu_c is not None and cpu_c > CPU_HOT_C:
        hot.append(f"CPU above {CPU_HOT_C:.0f} C")
    if throttle:
        hot.append("throttling: " + ", ".join(throttle))
    if hot:
        return CheckResult("warn", f"{text}: " + "; ".join(hot) + " (normal under load: GPU 60-75 C, CPU 50-65 C)",
                           "check airflow and ambient temperature; the GB10 should not throttle at full load",
                           data=data)
    return CheckResult("pass", f"{text}, no throttling" + ("" if perf else " (clock event reasons unknown)"),
                       data=data)
