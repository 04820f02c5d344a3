"""Network devices: `ip -j addr show`, and per QSFP netdev `ethtool -i` / `ethtool -m` sections."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# ConnectX-7 ports on GB10: enp1s0f0np0, enp1s0f1np1, enP2p1s0f0np0, enP2p1s0f1np1
QSFP_NAME = re.compile(r"^en[pP]\w*s\d+f\d+np(\d+)$")


@dataclass
class Link:
    name: str
    mtu: int | None
    operstate: str | None           # "UP", "DOWN", "UNKNOWN"
    flags: list[str] = field(default_factory=list)
    mac: str | None = None
    ipv4: list[str] = field(default_factory=list)   # "192.168.100.10/24"

    @property
    def carrier(self) -> bool:
        return "LOWER_UP" in self.flags or (self.operstate or "").upper() == "UP"

    @property
    def is_qsfp(self) -> bool:
        return bool(QSFP_NAME.match(self.name))


@dataclass
class Links:
    links: list[Link] = field(default_factory=list)

    def get(self, name: str) -> Link | None:
        return next((ln for ln in self.links if ln.name == name), None)


def parse_ip_addr(text: str) -> Links:
    """`ip -j addr show` (or `ip -j link show`): a JSON list of interfaces."""
    data = json.loads(text.strip() or "[]")
    if not isinstance(data, list):
        raise ValueError("not a JSON list")
    links = []
    for item in data:
        ipv4 = [f"{a['local']}/{a.get('prefixlen', 32)}" for a in item.get("addr_info", [])
                if a.get("family") == "inet" and a.get("local")]
        links.append(Link(item.get("ifname", "?"), item.get("mtu"), item.get("operstate"),
                          list(item.get("flags", [])), item.get("address"), ipv4))
    return Links(links)


def sections(text: str, *, strict: bool = True) -> dict[str, list[str]]:
    """'## NAME' then that section's lines. Strict: text before the first marker is not the probe's
    output (ValueError); otherwise it is skipped."""
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            out[current] = []
        elif current is not None:
            out[current].append(line)
        elif strict and line.strip():
            raise ValueError(f"output before any '## NETDEV' line: {line.strip()[:60]!r}")
    return out


@dataclass
class DriverInfo:
    netdev: str
    driver: str | None
    firmware: str | None
    bus_info: str | None   # PCI address, e.g. "0000:01:00.1"


@dataclass
class EthtoolInfo:
    ports: list[DriverInfo] = field(default_factory=list)


def parse_ethtool_i(text: str) -> EthtoolInfo:
    """'## NETDEV' sections, each the output of `ethtool -i NETDEV` (driver:, firmware-version:, bus-info:)."""
    ports = []
    for name, lines in sections(text).items():
        kv = {}
        for ln in lines:
            key, sep, value = ln.partition(":")
            if sep:
                kv[key.strip()] = value.strip()
        if lines and "driver" not in kv and not any("ethtool" in ln or "Cannot" in ln for ln in lines):
            raise ValueError(f"## {name}: not `ethtool -i` output (no driver: line)")
        ports.append(DriverInfo(name, kv.get("driver"), kv.get("firmware-version"), kv.get("bus-info") or None))
    return EthtoolInfo(ports)


@dataclass
class Module:
    netdev: str
    vendor: str | None = None
    part: str | None = None
    serial: str | None = None
    identifier: str | None = None
    error: str | None = None   # e.g. sudo refused, or "Cannot get module EEPROM information"


@dataclass
class Modules:
    modules: list[Module] = field(default_factory=list)


def parse_ethtool_m(text: str) -> Modules:
    """'## NETDEV' sections, each the output of `ethtool -m NETDEV` (Vendor name/PN/SN lines)."""
    mods = []
    for name, lines in sections(text).items():
        mod = Module(name)
        for ln in lines:
            key, sep, value = ln.partition(":")
            key = key.strip()
            if not sep:
                continue
            value = value.strip()
            if key == "Vendor name":
                mod.vendor = value
            elif key == "Vendor PN":
                mod.part = value
            elif key == "Vendor SN":
                mod.serial = value
            elif key == "Identifier":
                mod.identifier = value
            elif key.startswith("sudo") or "Cannot" in key or "error" in key.lower():
                mod.error = ln.strip()
        if not (mod.serial or mod.vendor or mod.identifier) and not mod.error:
            said = " ".join(ln.strip() for ln in lines if ln.strip())
            if said and not re.search(r"error|[Cc]annot|not supported|[Nn]o such|[Ii]nvalid|sudo", said):
                raise ValueError(f"## {name}: not `ethtool -m` output: {said[:60]!r}")
            mod.error = said[:120] or "no module data"
        mods.append(mod)
    return Modules(mods)
