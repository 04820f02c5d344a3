"""What one node's fabric looks like now: one remote command, sections parsed into NodeState.

The command prints "## SECTION" blocks: ibdev2netdev, `ip -j addr`, NetworkManager's devices and
connection profiles (each ethernet profile's settings), the netplan files, the RoCE GID table,
the IPv6 neighbours seen on each QSFP port after a link-local multicast ping (the cable map comes
from the link itself), MemAvailable, Docker's FORWARD policy and the rollback snapshots present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sparkpilot.probes import PROBES, ROOT
from sparkpilot.probes.fabric import Neighbour, parse_ip_neigh, split_terse

NET_DIR = "/var/lib/sparkpilot/net"   # snapshots and the last good check, under SPARKPILOT_HOST_ROOT
QSFP_RE = "^en[pP][0-9a-z]*s[0-9]+f[0-9]+np[0-9]+$"

_NETPLAN = PROBES["netplan"].argv[2]   # the probes' own scripts (sh -c SCRIPT): one table
_GIDS = PROBES["gids"].argv[2]

PROFILE_FIELDS = ("connection.id,connection.uuid,connection.interface-name,connection.autoconnect,"
                  "ipv4.method,ipv4.addresses,ipv6.method,802-3-ethernet.mtu")

SCRIPT = (
    'R=' + ROOT + '; '
    'echo "## ibdev2netdev"; ibdev2netdev 2>&1; '
    'echo "## addr"; ip -j addr show; '
    'echo "## nm-dev"; nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device status 2>&1; '
    'echo "## nm-con"; nmcli -t -f UUID,TYPE,DEVICE,FILENAME connection show 2>&1; '
    'for u in $(nmcli -t -f UUID,TYPE connection show 2>/dev/null | '
    "awk -F: '$2==\"802-3-ethernet\"{print $1}'); do "
    'echo "## nm-profile $u"; nmcli -t -f ' + PROFILE_FIELDS + ' connection show "$u" 2>&1; done; '
    'echo "## netplan"; ' + _NETPLAN + '; '
    'echo "## gids"; ( ' + _GIDS + ' ); '
    "ports=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '" + QSFP_RE + "'); "
    # a port just up has a tentative link-local address (DAD) for about a second: wait for it
    'for p in $ports; do ( i=0; while ip -6 addr show dev "$p" scope link 2>/dev/null | grep -q tentative '
    '&& [ $i -lt 40 ]; do sleep 0.1; i=$((i+1)); done; '
    'ping -6 -c 2 -i 0.2 -w 2 "ff02::1%$p" >/dev/null 2>&1 ) & done; wait; '
    'echo "## neigh"; ip -j -6 neigh show; '
    'echo "## meminfo"; grep -E "^MemAvailable:" "$R/proc/meminfo"; '
    'echo "## forward"; sudo -n iptables -S FORWARD 2>&1 | head -n 1; '
    'echo "## snapshots"; ls -1 "$R' + NET_DIR + '" 2>/dev/null; '
    'echo "## last-good"; cat "$R' + NET_DIR + '/last-good.json" 2>/dev/null; true'
)


@dataclass
class Profile:
    uuid: str
    name: str
    iface: str | None
    autoconnect: bool
    ipv4_method: str | None
    ipv4_addresses: list[str]
    ipv6_method: str | None
    mtu: int | None               # None: "auto" (the device's default)
    device: str | None = None     # where it is active now
    filename: str | None = None   # its keyfile (persistent in /etc, in-memory in /run)


@dataclass
class NodeState:
    name: str
    host: str
    reachable: bool = True
    reason: str | None = None
    ib: Any = None                # probes.rdma.IbDevices or None
    links: Any = None             # probes.netdev.Links or None
    nm_devices: dict[str, tuple[str, str]] = field(default_factory=dict)   # dev -> (state, connection)
    nm_reason: str | None = None  # why NetworkManager could not be asked
    profiles: list[Profile] = field(default_factory=list)
    netplan: Any = None
    gids: Any = None
    neighbours: list[Neighbour] = field(default_factory=list)
    mem_available_kb: int | None = None
    forward: str | None = None    # "-P FORWARD DROP" etc., None when not readable
    snapshots: list[str] = field(default_factory=list)
    last_good: str | None = None

    def qsfp(self) -> list[Any]:
        """QSFP links (ConnectX-7 netdevs: ibdev2netdev's, else by name)."""
        if not self.links:
            return []
        names = {m.netdev for m in self.ib.mappings} if self.ib else set()
        return [ln for ln in self.links.links if ln.name in names or ln.is_qsfp]

    def cabled(self) -> list[Any]:
        return [ln for ln in self.qsfp() if ln.carrier]

    def ibdev(self, netdev: str) -> str | None:
        if not self.ib:
            return None
        return next((m.ibdev for m in self.ib.mappings if m.netdev == netdev), None)

    def profiles_on(self, port: str) -> list[Profile]:
        return [p for p in self.profiles if port in (p.iface, p.device)]


def parse_state(name: str, host: str, text: str) -> NodeState:
    from sparkpilot.probes.netdev import parse_ip_addr, sections
    from sparkpilot.probes.network import parse_netplan
    from sparkpilot.probes.rdma import parse_ibdev2netdev, parse_show_gids

    s = sections(text, strict=False)
    st = NodeState(name, host)
    body = {k: "\n".join(v) for k, v in s.items()}
    try:
        st.ib = parse_ibdev2netdev(body.get("ibdev2netdev", ""))
    except ValueError:
        st.ib = None
    try:
        st.links = parse_ip_addr(body.get("addr", ""))
    except ValueError:
        st.links = None
    dev_lines = s.get("nm-dev", [])
    if dev_lines and not any(":" in ln for ln in dev_lines):
        st.nm_reason = " ".join(dev_lines)[:200]
    for line in dev_lines:
        f = split_terse(line)
        if len(f) >= 4:
            st.nm_devices[f[0]] = (f[2], f[3])
    active, files = {}, {}
    for line in s.get("nm-con", []):
        f = split_terse(line)
        if len(f) >= 4:
            active[f[0]] = f[2] or None
            files[f[0]] = f[3] or None
    for key, lines in s.items():
        if key.startswith("nm-profile "):
            kv = {}
            for ln in lines:
                k, sep, v = ln.partition(":")
                if sep:
                    kv[k] = v.replace("\\:", ":")
            uuid = kv.get("connection.uuid", key.split(" ", 1)[1])
            mtu = kv.get("802-3-ethernet.mtu", "")
            st.profiles.append(Profile(
                uuid, kv.get("connection.id", uuid), kv.get("connection.interface-name") or None,
                kv.get("connection.autoconnect", "yes") == "yes", kv.get("ipv4.method") or None,
                [a.strip() for a in kv.get("ipv4.addresses", "").split(",") if a.strip()],
                kv.get("ipv6.method") or None, int(mtu) if mtu.isdigit() and int(mtu) else None,
                active.get(uuid), files.get(uuid)))
    try:
        st.netplan = parse_netplan(body.get("netplan", ""))
    except (ValueError, TypeError, AttributeError, ImportError):   # a broken file: doctor reports it
        st.netplan = None
    try:
        st.gids = parse_show_gids(body.get("gids", ""))
    except ValueError:   # no GID table readable: the env leaves NCCL_IB_GID_INDEX unset
        st.gids = None
    try:
        st.neighbours = [n for n in parse_ip_neigh(body.get("neigh", "")) if n.address.startswith("fe80")]
    except ValueError:
        st.neighbours = []
    m = re.search(r"MemAvailable:\s*(\d+)", body.get("meminfo", ""))
    st.mem_available_kb = int(m.group(1)) if m else None
    fwd = body.get("forward", "").strip()
    st.forward = fwd if fwd.startswith("-P FORWARD") else None
    st.snapshots = sorted(ln.strip() for ln in s.get("snapshots", []) if re.match(r"^\d{8}T\d{6}", ln.strip()))
    st.last_good = body.get("last-good", "").strip() or None
    return st


def gather(targets: list[tuple[str, Any]], timeout: float = 20.0) -> list[NodeState]:
    """[(name, runner)] -> NodeState each, side by side; a host that does not answer is unreachable."""
    from concurrent.futures import ThreadPoolExecutor

    from sparkpilot.errors import TransportError

    def one(item: tuple[str, Any]) -> NodeState:
        name, runner = item
        try:
            res = runner.run(["sh", "-c", SCRIPT], timeout=timeout)
        except TransportError as exc:
            return NodeState(name, runner.name, reachable=False, reason=str(exc).strip().splitlines()[0][:200])
        return parse_state(name, runner.name, res.stdout)

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(targets)))) as pool:
        return list(pool.map(one, targets))
