"""RoCE devices: ibdev2netdev and the GID table (show_gids layout, read from sysfs)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class IbMapping:
    ibdev: str
    port: int
    netdev: str
    state: str  # "Up" / "Down"


@dataclass
class IbDevices:
    mappings: list[IbMapping] = field(default_factory=list)

    @property
    def up(self) -> list[IbMapping]:
        return [m for m in self.mappings if m.state.lower() == "up"]


def parse_ibdev2netdev(text: str) -> IbDevices:
    out = []
    for line in text.splitlines():
        m = re.match(r"^\s*(\S+) port (\d+) ==> (\S+) \((\w+)\)", line)
        if m:
            out.append(IbMapping(m.group(1), int(m.group(2)), m.group(3), m.group(4)))
    if not out and text.strip():
        raise ValueError("no 'DEV port N ==> NETDEV (State)' lines")
    return IbDevices(out)


_GID = re.compile(r"^[0-9a-fA-F]{4}(?::[0-9a-fA-F]{4}){7}$")


@dataclass
class Gid:
    ibdev: str
    port: int
    index: int
    gid: str
    ipv4: str | None
    version: str  # "v1" / "v2"
    netdev: str | None


@dataclass
class GidTable:
    gids: list[Gid] = field(default_factory=list)

    def rocev2_ipv4(self, ibdev: str) -> list[Gid]:
        return sorted((g for g in self.gids if g.ibdev == ibdev and g.version == "v2" and g.ipv4),
                      key=lambda g: g.index)


def parse_show_gids(text: str) -> GidTable:
    """Rows of `show_gids` (DEV PORT INDEX GID IPv4 VER DEV), which the gids probe prints from sysfs.
    A table without rows is not an answer (no device's GIDs could be read): ValueError, so the GID
    checks say unknown rather than judge an empty table."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] in ("DEV", "---") or set(parts[0]) <= {"-"} or line.startswith("n_gids_found"):
            continue
        if len(parts) < 4 or not parts[1].isdigit() or not parts[2].isdigit() or not _GID.match(parts[3]):
            raise ValueError(f"not a show_gids row: {line.strip()[:60]!r}")
        ibdev, port, index, gid = parts[0], int(parts[1]), int(parts[2]), parts[3]
        rest = parts[4:]
        ipv4 = rest.pop(0) if rest and re.match(r"^\d+\.\d+\.\d+\.\d+$", rest[0]) else None
        version = rest.pop(0) if rest and rest[0] in ("v1", "v2") else "v1"
        netdev = rest[0] if rest else None
        out.append(Gid(ibdev, port, index, gid, ipv4, version, netdev))
    if not out:
        raise ValueError("the GID table is empty (no /sys/class/infiniband/*/ports/*/gids entry was read)")
    return GidTable(out)
