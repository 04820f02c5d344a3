"""Clocks: chronyc tracking, timedatectl show."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class ClockSync:
    source: str                    # "chrony" / "timedatectl"
    synchronized: bool | None
    offset_s: float | None = None  # system clock minus reference (chrony "System time")
    reference: str | None = None


def parse_chrony_tracking(text: str) -> ClockSync:
    kv = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            kv[key.strip()] = value.strip()
    if "Leap status" not in kv and "System time" not in kv:
        raise ValueError("no 'Leap status' or 'System time' line")
    offset = None
    m = re.match(r"([\d.]+) seconds (fast|slow)", kv.get("System time", ""))
    if m:
        offset = float(m.group(1)) * (1 if m.group(2) == "fast" else -1)
    leap = kv.get("Leap status")
    return ClockSync("chrony", None if leap is None else leap != "Not synchronised", offset, kv.get("Reference ID"))


def parse_timedatectl(text: str) -> ClockSync:
    kv = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if "NTPSynchronized" not in kv:
        raise ValueError("no NTPSynchronized= line")
    return ClockSync("timedatectl", kv["NTPSynchronized"].strip() == "yes")


@dataclass
class Epoch:
    epoch: float   # seconds since 1970 on the host's clock


def parse_epoch(text: str) -> Epoch:
    """`date +%s.%N`."""
    t = text.strip()
    if not re.match(r"^\d+(\.\d+)?$", t):
        raise ValueError(f"not seconds since the epoch: {t[:30]!r}")
    return Epoch(float(t))
