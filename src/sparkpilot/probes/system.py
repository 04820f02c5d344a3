"""Probes of the base system: /proc/meminfo, /etc/os-release, the kernel release, the host name."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field


@dataclass
class MemInfo:
    """/proc/meminfo in kB, as the kernel prints it (only the fields doctor reads)."""
    mem_total_kb: int
    mem_free_kb: int | None = None
    mem_available_kb: int | None = None
    buffers_kb: int | None = None
    cached_kb: int | None = None
    swap_total_kb: int | None = None
    swap_free_kb: int | None = None

    @property
    def page_cache_kb(self) -> int | None:
        if self.cached_kb is None:
            return None
        return self.cached_kb + (self.buffers_kb or 0)


_MEM_KEYS = {"MemTotal": "mem_total_kb", "MemFree": "mem_free_kb", "MemAvailable": "mem_available_kb",
             "Buffers": "buffers_kb", "Cached": "cached_kb", "SwapTotal": "swap_total_kb",
             "SwapFree": "swap_free_kb"}


def parse_meminfo(text: str) -> MemInfo:
    values: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+):\s+(\d+)(?:\s+kB)?\s*$", line)
        if m and m.group(1) in _MEM_KEYS:
            values[_MEM_KEYS[m.group(1)]] = int(m.group(2))
    if "mem_total_kb" not in values:
        raise ValueError("no MemTotal line")
    return MemInfo(**values)


@dataclass
class OsRelease:
    name: str | None
    version_id: str | None
    pretty_name: str | None
    version: str | None = None  # e.g. "24.04.3 LTS (Noble Numbat)"
    id: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def point_release(self) -> str | None:
        """'24.04.3' from VERSION or PRETTY_NAME; VERSION_ID when no point release is shown."""
        for text in (self.version, self.pretty_name):
            m = re.search(r"\b(\d+\.\d+\.\d+)\b", text or "")
            if m:
                return m.group(1)
        return self.version_id


_OS_KEY = re.compile(r"^[A-Z][A-Z0-9_]*$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*$")


def parse_os_release(text: str) -> OsRelease:
    """os-release(5): only KEY=value lines (KEY upper-case), comments and blank lines."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if not eq or not _OS_KEY.match(key):
            raise ValueError(f"not an os-release line: {line[:60]!r}")
        try:
            parts = shlex.split(value)
            fields[key] = parts[0] if parts else ""
        except ValueError:
            fields[key] = value.strip('"')
    if not fields or not {"NAME", "ID", "PRETTY_NAME", "VERSION_ID"} & set(fields):
        raise ValueError("no NAME, ID, PRETTY_NAME or VERSION_ID line")
    return OsRelease(fields.get("NAME"), fields.get("VERSION_ID"), fields.get("PRETTY_NAME"),
                     fields.get("VERSION"), fields.get("ID"), fields)


@dataclass
class Kernel:
    release: str  # e.g. "6.17.0-1014-nvidia"

    @property
    def series(self) -> str:
        m = re.match(r"(\d+\.\d+)", self.release)
        return m.group(1) if m else self.release


def parse_kernel(text: str) -> Kernel:
    """/proc/sys/kernel/osrelease: one word such as 6.17.0-1014-nvidia (major.minor, then anything)."""
    release = text.strip()
    if not re.match(r"^\d{1,2}\.\d{1,3}(?:[.\w+~-]*)$", release):
        raise ValueError(f"not a kernel release: {release[:40]!r}")
    return Kernel(release)


@dataclass
class Hostname:
    name: str


def parse_hostname(text: str) -> Hostname:
    """/proc/sys/kernel/hostname: one line, a host name (letters, digits, '-', '_', dotted labels)."""
    name = text.strip()
    if not name:
        raise ValueError("empty host name")
    if not _HOSTNAME.match(name) or re.match(r"^\d+\.", name):   # 6.17.0-1014-nvidia, 1795927337.88: not names
        raise ValueError(f"not a host name: {name.splitlines()[0][:40]!r}" + (" (several lines)" if "\n" in name else ""))
    return Hostname(name)


@dataclass
class MemoryHolder:
    pid: int
    rss_kb: int
    command: str


@dataclass
class MemoryHolders:
    processes: list[MemoryHolder] = field(default_factory=list)   # most resident memory first


def parse_memory_holders(text: str) -> MemoryHolders:
    """`ps -eo pid=,rss=,comm= --sort=-rss | head -n 5`: the processes that hold the most memory."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^\s*(\d+)\s+(\d+)\s+(.+?)\s*$", line)
        if m:
            out.append(MemoryHolder(int(m.group(1)), int(m.group(2)), m.group(3)))
        elif line.strip():
            raise ValueError(f"not a `ps -eo pid=,rss=,comm=` line: {line.strip()[:60]!r}")
    if not out:
        raise ValueError("no process listed")
    return MemoryHolders(out)
