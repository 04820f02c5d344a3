"""The cable map, the topology and the addresses, from what the links themselves show.

Each node pings the IPv6 all-nodes group on each QSFP port; the neighbours that answer are
looked up by MAC among every node's ports. So "spark-1 enp1s0f1np1 <-> spark-2 enp1s0f1np1" is
seen on the wire, never assumed from port names. A segment is a set of ports that see each other:
two ports on a cable, or every node's port on one switch rail. Each segment gets its own /24
(one subnet per logical port pair, NVIDIA's current layout), or the inventory's addresses.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

BASE = ipaddress.ip_network("192.168.100.0/24")
HOST_OFFSET = 10   # node i gets .10+i on every segment (as NVIDIA's examples count from .10)

Port = tuple[int, str]   # (node index, netdev)


def rail_key(port: str) -> tuple[int, int, str]:
    """enp1s0f1np1 -> (0, 1, name), enP2p1s0f1np1 -> (2, 1, name): PCI domain, then cage."""
    dom = re.match(r"^en[pP](\d+)p", port)
    fn = re.search(r"f(\d+)np\d+$", port)
    return (int(dom.group(1)) if dom else 0, int(fn.group(1)) if fn else 0, port)


def cage(port: str) -> str:
    """The physical QSFP cage a logical port belongs to: its function number (f0 / f1)."""
    fn = re.search(r"f(\d+)np\d+$", port)
    return f"f{fn.group(1)}" if fn else port


@dataclass
class Fabric:
    links: list[tuple[Port, Port]] = field(default_factory=list)     # seen on the wire
    segments: list[list[Port]] = field(default_factory=list)         # ports that see each other
    unmapped: list[Port] = field(default_factory=list)               # carrier, no neighbour seen
    topology: str = "none"    # none, pair, switch, ring, partial
    why: str = ""

    def segment_of(self, port: Port) -> int | None:
        return next((k for k, seg in enumerate(self.segments) if port in seg), None)

    def peers(self, port: Port) -> list[Port]:
        k = self.segment_of(port)
        return [] if k is None else [p for p in self.segments[k] if p != port]


def cable_map(states: list[Any]) -> Fabric:
    by_mac: dict[str, Port] = {}
    for i, st in enumerate(states):
        for ln in st.qsfp():
            if ln.mac:
                by_mac[ln.mac.lower()] = (i, ln.name)
    seen: dict[Port, set[Port]] = {}
    fab = Fabric()
    for i, st in enumerate(states):
        for ln in st.cabled():
            peers = {by_mac[n.mac.lower()] for n in st.neighbours
                     if n.dev == ln.name and n.mac and n.mac.lower() in by_mac}
            peers.discard((i, ln.name))
            if peers:
                seen.setdefault((i, ln.name), set()).update(peers)
            else:
                fab.unmapped.append((i, ln.name))
    for a, bs in seen.items():   # a neighbour seen from one side is a link (the other may be slow)
        for b in bs:
            pair = (min(a, b), max(a, b))
            if pair not in fab.links:
                fab.links.append(pair)
    fab.links.sort(key=lambda lk: (lk[0][0], rail_key(lk[0][1]), lk[1][0]))
    fab.unmapped = [p for p in fab.unmapped if not any(p in lk for lk in fab.links)]
    fab.segments = _segments(fab.links)
    fab.topology, fab.why = _topology(fab, len(states))
    return fab


def _segments(links: list[tuple[Port, Port]]) -> list[list[Port]]:
    parent: dict[Port, Port] = {}

    def find(p: Port) -> Port:
        while parent.setdefault(p, p) != p:
            p = parent[p]
        return p

    for a, b in links:
        parent[find(a)] = find(b)
    groups: dict[Port, list[Port]] = {}
    for p in list(parent):
        groups.setdefault(find(p), []).append(p)
    segs = [sorted(g, key=lambda p: (p[0], rail_key(p[1]))) for g in groups.values()]
    return sorted(segs, key=lambda g: (g[0][0], rail_key(g[0][1])))


def _topology(fab: Fabric, n: int) -> tuple[str, str]:
    if not fab.links:
        return "none", "no QSFP port sees another node's port"
    if any(len(seg) > 2 for seg in fab.segments):
        return "switch", "a port sees several nodes' ports: a QSFP switch"
    adj: dict[int, set[int]] = {}
    for (i, _), (j, _) in fab.links:
        adj.setdefault(i, set()).add(j)
        adj.setdefault(j, set()).add(i)
    if n == 2 and adj.get(0) == {1}:
        return "pair", "two Sparks cabled to each other"
    if n >= 3 and len(adj) == n and all(len(v) == 2 for v in adj.values()):
        # a single cycle through every node
        prev, cur, count = None, 0, 0
        while True:
            nxt = next(iter(adj[cur] - {prev})) if prev is not None else min(adj[cur])
            prev, cur, count = cur, nxt, count + 1
            if cur == 0 or count > n:
                break
        if count == n:
            return "ring", f"each Spark cabled to its two neighbours ({n} nodes)"
    missing = [i for i in range(n) if i not in adj]
    return "partial", ("no cable seen from node " + ", ".join(str(i) for i in missing)) if missing \
        else "the cables form neither a pair, a ring nor a switch"


def addresses(fab: Fabric, inventory: list[list[str]] | None = None) -> dict[Port, str]:
    """Port -> "a.b.c.d/24": the inventory's interconnect addresses when every node has them
    (in the order of its ports by PCI domain and cage), else one /24 per segment."""
    out: dict[Port, str] = {}
    in_use = sorted({p for seg in fab.segments for p in seg}, key=lambda p: (p[0], rail_key(p[1])))
    if inventory and all(inventory[i] for i in {p[0] for p in in_use}):
        per_node: dict[int, list[str]] = {}
        for p in in_use:
            per_node.setdefault(p[0], []).append(p[1])
        for i, ports in per_node.items():
            for port, addr in zip(ports, inventory[i], strict=False):
                out[(i, port)] = addr if "/" in addr else f"{addr}/24"
        return out
    for k, seg in enumerate(fab.segments):
        net = ipaddress.ip_network(f"{BASE.network_address + 256 * k}/24")
        for i, port in seg:
            out[(i, port)] = f"{net.network_address + HOST_OFFSET + i}/{net.prefixlen}"
    return out


def describe(fab: Fabric, names: list[str]) -> list[str]:
    """"spark-1 enp1s0f1np1 <-> spark-2 enp1s0f1np1" per link, in segment order."""
    lines = []
    for seg in fab.segments:
        if len(seg) == 2:
            (i, p), (j, q) = seg
            lines.append(f"{names[i]} {p} (cage {cage(p)}) <-> {names[j]} {q} (cage {cage(q)})")
        else:
            lines.append("switch rail: " + ", ".join(f"{names[i]} {p}" for i, p in seg))
    lines += [f"{names[i]} {p}: link up, no neighbour answered on it" for i, p in fab.unmapped]
    return lines
