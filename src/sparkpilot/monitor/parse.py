"""Pure parsers of the sampler's sections (monitor/sampler.py). Each returns plain values; a field
that the host did not give is None (unknown), never 0.

GB10 notes: nvidia-smi reports the unified memory as "[N/A]" / "Not Supported", so the memory
here comes from /proc/meminfo and what CUDA processes hold is summed per process from
--query-compute-apps; MemTotal minus MemAvailable is never passed off as GPU memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sparkpilot.probes.nvidia_smi import NA_VALUES

# NVML nvmlClocksEventReasons bits (nvml.h: nvmlClocksEventReasonGpuIdle = 0x1 ... DisplayClockSetting = 0x100)
CLOCK_EVENT_BITS = {
    0x1: "gpu_idle", 0x2: "applications_clocks_setting", 0x4: "sw_power_cap", 0x8: "hw_slowdown",
    0x10: "sync_boost", 0x20: "sw_thermal_slowdown", 0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown", 0x100: "display_clock_setting",
}
THROTTLING = ("sw_power_cap", "hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown",
              "hw_power_brake_slowdown")


def _num(text: str | None) -> float | None:
    if text is None:
        return None
    text = text.strip()
    if text in NA_VALUES:
        return None
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None


@dataclass
class GpuSample:
    temp_c: float | None = None
    power_w: float | None = None
    sm_clock_mhz: float | None = None
    sm_clock_max_mhz: float | None = None
    clock_reasons: list[str] | None = None      # None: not reported
    util_pct: float | None = None
    pstate: str | None = None
    error: str | None = None

    @property
    def throttling(self) -> list[str]:
        return [r for r in (self.clock_reasons or []) if r in THROTTLING]


NO_GPU_LINE = "no nvidia-smi output yet"


def clock_reasons(text: str) -> list[str] | None:
    """'0x0000000000000004' -> ['sw_power_cap']; N/A -> None."""
    text = text.strip()
    if text in NA_VALUES:
        return None
    try:
        mask = int(text, 16)
    except ValueError:
        return None
    return [name for bit, name in CLOCK_EVENT_BITS.items() if mask & bit]


def parse_gpu(text: str) -> GpuSample:
    """The last line of `nvidia-smi --query-gpu=<sampler.GPU_FIELDS> --format=csv,noheader,nounits`."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return GpuSample(error=NO_GPU_LINE)
    parts = [p.strip() for p in lines[-1].split(",")]
    if len(parts) != 7:
        return GpuSample(error=lines[-1].strip()[:200])
    temp, power, clock, clock_max, reasons, util, pstate = parts
    return GpuSample(_num(temp), _num(power), _num(clock), _num(clock_max), clock_reasons(reasons),
                     _num(util), None if pstate in NA_VALUES else pstate)


@dataclass
class ComputeApp:
    pid: int
    name: str
    used_mib: float | None


def parse_apps(text: str) -> list[ComputeApp] | None:
    """`nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader,nounits`.
    Empty output: no CUDA process ([]); an error line: None (unknown)."""
    apps = []
    for line in text.splitlines():
        if not line.strip():
            continue
        head, _, rest = line.partition(",")
        name, _, mem = rest.rpartition(",")
        if not head.strip().isdigit() or not _:
            return None
        apps.append(ComputeApp(int(head), name.strip(), _num(mem)))
    return apps


def cuda_bytes(apps: list[ComputeApp] | None) -> float | None:
    """What CUDA processes hold, summed per process (None when nvidia-smi does not say)."""
    if apps is None:
        return None
    known = [a.used_mib for a in apps if a.used_mib is not None]
    if apps and not known:
        return None
    return sum(known) * 1024 * 1024


MEMINFO_KEYS = {"MemTotal": "total", "MemFree": "free", "MemAvailable": "available", "Buffers": "buffers",
                "Cached": "cached", "Shmem": "shmem", "SwapTotal": "swap_total", "SwapFree": "swap_free"}


def parse_meminfo(text: str) -> dict[str, float]:
    """/proc/meminfo -> bytes for the fields the monitor reads (missing ones are left out)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if sep and key in MEMINFO_KEYS:
            words = rest.split()
            if words and words[0].isdigit():
                out[MEMINFO_KEYS[key]] = int(words[0]) * (1024 if len(words) > 1 and words[1] == "kB" else 1)
    return out


def page_cache_bytes(mem: dict[str, float]) -> float | None:
    """Reclaimable file pages: Cached + Buffers - Shmem (shared memory counts in Cached but is not cache)."""
    if "cached" not in mem:
        return None
    return max(mem["cached"] + mem.get("buffers", 0) - mem.get("shmem", 0), 0)


def parse_psi(text: str) -> dict[str, float]:
    """/proc/pressure/memory: {'some_avg10': .., 'some_avg60': .., 'full_avg10': .., ...} (percent)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] not in ("some", "full"):
            continue
        for w in words[1:]:
            k, sep, v = w.partition("=")
            if sep and k.startswith("avg"):
                try:
                    out[f"{words[0]}_{k}"] = float(v)
                except ValueError:
                    pass
    return out


def _grep_h(text: str) -> list[tuple[list[str], str]]:
    """`grep -H "" files` lines -> (path parts, value)."""
    rows = []
    for line in text.splitlines():
        path, sep, value = line.partition(":")
        if sep:
            rows.append((path.split("/"), value.strip()))
    return rows


@dataclass
class Port:
    """A QSFP netdev (/sys/class/net/en*np*)."""
    name: str
    up: bool | None = None
    speed_mbps: float | None = None
    mtu: int | None = None
    counters: dict[str, int] = field(default_factory=dict)   # rx_bytes, tx_bytes, rx_errors, ...


def parse_net(text: str) -> dict[str, Port]:
    ports: dict[str, Port] = {}
    for parts, value in _grep_h(text):
        if "net" not in parts:
            continue
        i = parts.index("net")
        if len(parts) < i + 3:
            continue
        port = ports.setdefault(parts[i + 1], Port(parts[i + 1]))
        leaf = parts[-1]
        if leaf == "operstate":
            port.up = value == "up"
        elif leaf == "speed":
            n = _num(value)
            port.speed_mbps = n if n is not None and n > 0 else None   # -1: no link / unknown
        elif leaf == "mtu" and value.isdigit():
            port.mtu = int(value)
        elif parts[-2] == "statistics" and value.isdigit():
            port.counters[leaf] = int(value)
    return ports


@dataclass
class RdmaPort:
    """/sys/class/infiniband/DEV/ports/N: state ("4: ACTIVE"), rate ("200 Gb/sec (2X NDR)"), counters."""
    device: str
    port: str
    state: str | None = None
    rate_gbps: float | None = None
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def active(self) -> bool | None:
        return None if self.state is None else self.state.upper().endswith("ACTIVE")


def parse_ib(text: str) -> dict[str, RdmaPort]:
    ports: dict[str, RdmaPort] = {}
    for parts, value in _grep_h(text):
        if "ports" not in parts:
            continue
        i = parts.index("ports")
        if i < 1 or len(parts) < i + 3:
            continue
        dev, num = parts[i - 1], parts[i + 1]
        p = ports.setdefault(f"{dev}/{num}", RdmaPort(dev, num))
        leaf = parts[-1]
        if leaf == "state" and parts[-2] == num:
            p.state = value.split(":", 1)[-1].strip() if ":" in value else value
        elif leaf == "rate" and parts[-2] == num:
            p.rate_gbps = _num(value)
        elif parts[-2] in ("counters", "hw_counters") and value.isdigit():
            p.counters[leaf] = int(value)
    return ports


def rdma_bytes(port: RdmaPort, key: str) -> int | None:
    """port_xmit_data / port_rcv_data count 4-byte words (the IBA PortCounters definition)."""
    v = port.counters.get(key)
    return None if v is None else v * 4
