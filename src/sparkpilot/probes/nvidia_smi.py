"""nvidia-smi: the CSV query (name, driver, memory, temperature), `-q -d PERFORMANCE` and the plain
table's Processes section (what holds the GPU: gpu-idle).

GB10 shares one LPDDR5X pool with the CPU: nvidia-smi prints its memory as "[N/A]" in CSV and
"Not Supported" in the table, so memory is None here and doctor falls back to /proc/meminfo.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

NA_VALUES = {"[N/A]", "N/A", "[Not Supported]", "Not Supported", "[Unknown Error]", ""}


@dataclass
class Gpu:
    name: str | None
    driver_version: str | None = None
    compute_cap: str | None = None
    memory_total_mib: float | None = None   # None on GB10 (unified memory)
    memory_used_mib: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    pstate: str | None = None


@dataclass
class GpuQuery:
    gpus: list[Gpu] = field(default_factory=list)


def _num(value: str | None) -> float | None:
    if value is None or value.strip() in NA_VALUES:
        return None
    m = re.match(r"^\s*(-?[\d.]+)", value)
    return float(m.group(1)) if m else None


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return None if value in NA_VALUES else value


def parse_query(text: str) -> GpuQuery:
    """`nvidia-smi --query-gpu=... --format=csv` (with header; units may follow in brackets)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError("no output")
    if lines[0].startswith(("NVIDIA-SMI has failed", "No devices were found")):
        raise ValueError(lines[0].strip())
    rows = list(csv.reader(io.StringIO("\n".join(lines)), skipinitialspace=True))
    header = [re.sub(r"\s*\[.*\]$", "", h.strip()) for h in rows[0]]
    if ("name" not in header and "driver_version" not in header) \
            or not all(re.match(r"^[a-z_.]+$", h) for h in header):
        raise ValueError("the first line is not a --query-gpu CSV header (name, driver_version, ...)")
    gpus = []
    for row in rows[1:]:
        if len(row) != len(header):
            raise ValueError(f"a row of {len(row)} fields under a header of {len(header)}: {', '.join(row)[:60]!r}")
        values = dict(zip(header, row, strict=True))
        gpus.append(Gpu(
            name=_text(values.get("name")), driver_version=_text(values.get("driver_version")),
            compute_cap=_text(values.get("compute_cap")),
            memory_total_mib=_num(values.get("memory.total")), memory_used_mib=_num(values.get("memory.used")),
            temperature_c=_num(values.get("temperature.gpu")), power_w=_num(values.get("power.draw")),
            pstate=_text(values.get("pstate"))))
    if not gpus:
        raise ValueError("header but no GPU rows")
    return GpuQuery(gpus)


THROTTLE_REASONS = ("SW Power Cap", "HW Slowdown", "HW Thermal Slowdown", "HW Power Brake Slowdown",
                    "SW Thermal Slowdown")


@dataclass
class GpuPerf:
    driver_version: str | None
    cuda_version: str | None
    performance_state: str | None = None
    # reason label -> True (Active) / False (Not Active); None values ("N/A") are left out
    clock_event_reasons: dict[str, bool] = field(default_factory=dict)

    @property
    def throttling(self) -> list[str]:
        return [r for r in THROTTLE_REASONS if self.clock_event_reasons.get(r)]


def parse_q(text: str) -> GpuPerf:
    """`nvidia-smi -q [-d PERFORMANCE]`: "Clocks Event Reasons" (or the older "Clocks Throttle Reasons")."""
    driver = cuda = pstate = None
    reasons: dict[str, bool] = {}
    in_block = False
    block_indent = 0
    for line in text.splitlines():
        m = re.match(r"^(\s*)([^:]+?)\s*:\s*(.*?)\s*$", line)
        bare = re.match(r"^(\s*)(\S.*?)\s*$", line)
        if bare and ":" not in line:
            title = bare.group(2)
            if title in ("Clocks Event Reasons", "Clocks Throttle Reasons"):
                in_block, block_indent = True, len(bare.group(1))
                continue
            if in_block and len(bare.group(1)) <= block_indent:
                in_block = False
            continue
        if not m:
            continue
        indent, key, value = len(m.group(1)), m.group(2), m.group(3)
        if in_block and indent <= block_indent:
            in_block = False
        if key == "Driver Version":
            driver = value
        elif key == "CUDA Version":
            cuda = value
        elif key == "Performance State":
            pstate = value
        elif in_block and value in ("Active", "Not Active"):
            reasons[key] = value == "Active"
    if driver is None and not reasons:
        raise ValueError("no Driver Version and no clock event reasons")
    return GpuPerf(driver, None if cuda in (None, "N/A") else cuda, pstate, reasons)


# ----------------------------------------------------------------------------- plain `nvidia-smi`: its Processes
@dataclass
class GpuProcess:
    gpu: int
    pid: int
    type: str                  # G (graphics), C (compute), C+G (both), as nvidia-smi prints it
    name: str                  # as printed: nvidia-smi cuts a long path to "...tail"
    memory_mib: float | None   # "179MiB"; None when nvidia-smi prints N/A

    @property
    def compute(self) -> bool:
        return "C" in self.type.split("+")


@dataclass
class GpuProcesses:
    processes: list[GpuProcess] = field(default_factory=list)

    @property
    def compute(self) -> list[GpuProcess]:
        return [p for p in self.processes if p.compute]

    @property
    def graphics(self) -> list[GpuProcess]:
        return [p for p in self.processes if not p.compute]


# "|    0   N/A  N/A         2283430      C   VLLM::EngineCore                      61383MiB |"; drivers
# before 470 print no GI/CI columns ("|    0      1234      C   python    500MiB |")
_PROC_ROW = re.compile(r"^\|\s+(\d+)\s+(?:(?:\S+)\s+(?:\S+)\s+)?(\d+)\s+([A-Z](?:\+[A-Z])*)\s+(.*?)\s+"
                       r"(N/A|[\d.]+\s*[KMG]iB)\s*\|\s*$")


def parse_processes(text: str) -> GpuProcesses:
    """The Processes section of plain `nvidia-smi` (the table): every row's GPU, PID, type, name and
    memory; "No running processes found" is an empty list. No Processes section: ValueError."""
    lines = text.splitlines()
    if lines and lines[0].startswith(("NVIDIA-SMI has failed", "No devices were found")):
        raise ValueError(lines[0].strip())
    if not re.search(r"NVIDIA-SMI\s+\S+\s+Driver Version:", text):
        raise ValueError("not an nvidia-smi table (no 'NVIDIA-SMI ... Driver Version:' header)")
    start = next((i for i, ln in enumerate(lines) if re.match(r"^\|\s*Processes:", ln)), None)
    if start is None:
        raise ValueError("the nvidia-smi table has no Processes section")
    out = GpuProcesses()
    body = next((i for i in range(start, len(lines)) if lines[i].startswith("|===")), None)
    if body is None:
        raise ValueError("the Processes section has no '|===' line")
    for ln in lines[body + 1:]:
        if ln.startswith("+-"):
            break
        if "No running processes found" in ln:
            return out
        m = _PROC_ROW.match(ln)
        if not m:
            raise ValueError(f"a Processes row not read: {ln.strip()[:80]!r}")
        mem = None if m[5] == "N/A" else _mib(m[5])
        out.processes.append(GpuProcess(int(m[1]), int(m[2]), m[3], m[4].strip(), mem))
    return out


def _mib(value: str) -> float:
    m = re.match(r"([\d.]+)\s*([KMG])iB", value)
    return float(m[1]) * {"K": 1 / 1024, "M": 1.0, "G": 1024.0}[m[2]] if m else 0.0
