"""Temperatures: /sys/class/thermal zones and tegrastats."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Zone:
    zone: str
    type: str
    temp_c: float


@dataclass
class Zones:
    zones: list[Zone] = field(default_factory=list)

    @property
    def max_c(self) -> float | None:
        return max((z.temp_c for z in self.zones), default=None)

    @property
    def cpu_c(self) -> float | None:
        """The hottest zone that names the CPU / SoC; without such names, the hottest zone."""
        cpu = [z.temp_c for z in self.zones if any(k in z.type.lower() for k in ("cpu", "soc", "acpitz", "pkg"))]
        return max(cpu) if cpu else self.max_c


def parse_thermal_zones(text: str) -> Zones:
    """'thermal_zoneN<TAB>TYPE<TAB>MILLIDEGREES' lines printed from sysfs by the thermal probe."""
    zones = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not re.match(r"^thermal_zone\d+$", parts[0]) or not re.match(r"^-?\d+$", parts[2].strip()):
            raise ValueError(f"not a 'thermal_zoneN<TAB>TYPE<TAB>MILLIDEGREES' line: {line[:60]!r}")
        zones.append(Zone(parts[0], parts[1].strip(), int(parts[2]) / 1000.0))
    return Zones(zones)


@dataclass
class Tegrastats:
    temps_c: dict[str, float]   # e.g. {"cpu": 48.5, "gpu": 45.0}

    @property
    def cpu_c(self) -> float | None:
        vals = [v for k, v in self.temps_c.items() if k.lower().startswith("cpu")]
        return max(vals) if vals else None


def parse_tegrastats(text: str) -> Tegrastats:
    """One tegrastats line: NAME@TEMPC fields, e.g. 'cpu@48.5C'."""
    # sensors that are absent print -256C on Jetson; they are not temperatures
    temps = {m.group(1): float(m.group(2)) for m in re.finditer(r"(\w+)@(-?[\d.]+)C\b", text)
             if float(m.group(2)) > -40}
    if not temps:
        raise ValueError("no NAME@TEMPC fields")
    return Tegrastats(temps)
