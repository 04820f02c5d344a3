"""Network configuration: nmcli, netplan files, the services that apply them, and DF pings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sparkpilot.probes.fabric import split_terse
from typing import Any


@dataclass
class NmDevice:
    device: str
    type: str
    state: str
    connection: str | None


@dataclass
class NmDevices:
    devices: list[NmDevice] = field(default_factory=list)

    def get(self, name: str) -> NmDevice | None:
        return next((d for d in self.devices if d.device == name), None)


_NM_DEVICE = re.compile(r"^[^\s/:]{1,15}$")                    # a Linux interface name
_NM_TYPE = re.compile(r"^[a-z][a-z0-9-]*$")                      # ethernet, wifi, loopback, wifi-p2p, ...
_NM_STATE = re.compile(r"^[a-z][a-z -]*(?: \([a-z -]+\))?$")     # connected, unavailable, connected (externally)


def parse_nmcli_device(text: str) -> NmDevices:
    """`nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device status`; also the table form without -t."""
    devs = []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and lines[0].split()[:2] == ["DEVICE", "TYPE"]:  # table form
        for ln in lines[1:]:
            m = re.match(r"^(\S+)\s+(\S+)\s+(.+?)\s{2,}(.+?)\s*$", ln)
            if m:
                conn = m.group(4).strip()
                devs.append(NmDevice(m.group(1), m.group(2), m.group(3).strip(), None if conn == "--" else conn))
        return NmDevices(devs)
    for ln in lines:
        parts = split_terse(ln)
        if len(parts) < 4 or not _NM_DEVICE.match(parts[0]) or not _NM_TYPE.match(parts[1]) \
                or not _NM_STATE.match(parts[2]):
            raise ValueError(f"not an nmcli -t DEVICE:TYPE:STATE:CONNECTION line: {ln[:60]!r}")
        conn = ":".join(parts[3:])
        devs.append(NmDevice(parts[0], parts[1], parts[2], None if conn in ("", "--") else conn))
    return NmDevices(devs)


@dataclass
class NetplanInterface:
    name: str
    file: str
    renderer: str | None            # the device's own renderer key, if any
    addresses: list[str] = field(default_factory=list)
    mtu: int | None = None
    dhcp4: bool | None = None
    match_name: str | None = None   # `match: name:` (nmcli-written files use an NM-UUID id)

    @property
    def device(self) -> str:
        return self.match_name or self.name


@dataclass
class NetplanFile:
    path: str
    renderer: str | None            # network.renderer in this file
    readable: bool = True
    error: str | None = None


@dataclass
class Netplan:
    files: list[NetplanFile] = field(default_factory=list)
    interfaces: list[NetplanInterface] = field(default_factory=list)

    @property
    def global_renderer(self) -> str | None:
        """network.renderer of the merged configuration: the last file (in name order) that sets it."""
        found = [f.renderer for f in sorted(self.files, key=lambda f: f.path.rsplit("/", 1)[-1]) if f.renderer]
        return found[-1] if found else None

    def effective_renderer(self, iface: NetplanInterface) -> str:
        return iface.renderer or self.global_renderer or "networkd"   # netplan's default is networkd


def _bool(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() in ("yes", "true", "on")
    return None


def parse_netplan(text: str) -> Netplan:
    """'# file: PATH' followed by that YAML file's text, for each /etc/netplan/*.yaml."""
    import yaml

    chunks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        m = re.match(r"^# (file|unreadable): (.+)$", line)
        if m and m.group(1) == "file":
            chunks.append((m.group(2).strip(), []))
        elif m:
            if chunks and chunks[-1][0] == m.group(2).strip():
                chunks[-1] = (chunks[-1][0], ["__unreadable__"])
        elif chunks:
            chunks[-1][1].append(line)
    if not chunks and text.strip():
        raise ValueError("no '# file: PATH' line (the netplan probe marks every file it prints)")
    plan = Netplan()
    for path, lines in chunks:
        if lines == ["__unreadable__"]:
            plan.files.append(NetplanFile(path, None, False, "not readable (needs passwordless sudo to read)"))
            continue
        try:
            data = yaml.safe_load("\n".join(lines)) or {}
        except yaml.YAMLError as exc:
            plan.files.append(NetplanFile(path, None, True, f"YAML error: {str(exc).splitlines()[0]}"))
            continue
        net = (data or {}).get("network") or {}
        plan.files.append(NetplanFile(path, net.get("renderer")))
        for kind in ("ethernets", "bonds", "vlans", "bridges"):
            for name, conf in (net.get(kind) or {}).items():
                conf = conf or {}
                mtu = conf.get("mtu")
                match: dict[str, Any] = conf["match"] if isinstance(conf.get("match"), dict) else {}
                plan.interfaces.append(NetplanInterface(
                    str(name), path, conf.get("renderer"), [str(a) for a in conf.get("addresses") or []],
                    int(mtu) if mtu is not None else None, _bool(conf.get("dhcp4")),
                    str(match["name"]) if match.get("name") else None))
    return plan


@dataclass
class Services:
    states: dict[str, str]   # unit -> "active" / "inactive" / "failed" / "unknown"


SERVICE_UNITS = ("systemd-networkd", "NetworkManager")


def parse_services(text: str) -> Services:
    """`systemctl is-active systemd-networkd NetworkManager`: one state word per unit, in order."""
    words = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(words) != len(SERVICE_UNITS) or not all(re.match(r"^[a-z-]+$", w) for w in words):
        raise ValueError(f"expected {len(SERVICE_UNITS)} state words, got {words[:3]}")
    return Services(dict(zip(SERVICE_UNITS, words, strict=False)))


@dataclass
class Ping:
    transmitted: int | None
    received: int | None
    error: str | None = None   # e.g. "local error: message too long, mtu=1500"

    @property
    def ok(self) -> bool:
        return bool(self.received)


def parse_ping(text: str) -> Ping:
    m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
    err = re.search(r"(local error: .*|[Ff]rag needed.*|message too long.*)", text)
    if not m and not err:
        raise ValueError("no ping statistics line")
    return Ping(int(m.group(1)) if m else None, int(m.group(2)) if m else 0, err.group(1).strip() if err else None)
