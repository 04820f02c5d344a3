"""What `net apply` would change: the exact nmcli per node, and nothing when all is in place.

Per QSFP port in use, a profile `sparkpilot-<port>`: static IPv4 (one /24 per segment),
802-3-ethernet.mtu 9000 (the link's MTU; ipv4.mtu is not), IPv6 link-local (the cable map needs
it), autoconnect with priority over anything else, never the default route. Other profiles on the
port that autoconnect (NetworkManager's generic DHCP "Wired connection N", netplan's
netplan-<port>) are retired: autoconnect off, kept so undo can bring them back. Netplan files
that would be ignored (networkd renderer) or fight NetworkManager are flagged, never edited.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from sparkpilot.knowledge.fabric import limit
from sparkpilot.netcfg.topology import Fabric, Port, addresses, cable_map, rail_key

PREFIX = "sparkpilot-"
NMCLI = ["sudo", "-n", "nmcli"]


@dataclass
class Step:
    argv: list[str]
    why: str

    @property
    def text(self) -> str:
        return shlex.join(self.argv[2:] if self.argv[:2] == ["sudo", "-n"] else self.argv)


@dataclass
class NodePlan:
    name: str
    host: str
    ports: dict[str, str] = field(default_factory=dict)     # port -> address/prefix
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)          # flagged, not changed


@dataclass
class NetPlan:
    fabric: Fabric
    nodes: list[NodePlan]
    problems: list[str] = field(default_factory=list)       # nothing is applied while there are any

    @property
    def changes(self) -> int:
        return sum(len(n.steps) for n in self.nodes)

    def to_dict(self) -> dict[str, Any]:
        return {"topology": self.fabric.topology, "why": self.fabric.why,
                "cables": [{"a": {"node": self.nodes[a[0]].name, "port": a[1]},
                            "b": {"node": self.nodes[b[0]].name, "port": b[1]}} for a, b in self.fabric.links],
                "problems": self.problems,
                "nodes": [{"name": n.name, "host": n.host, "ports": n.ports, "notes": n.notes,
                           "changes": [{"command": s.text, "argv": s.argv, "why": s.why} for s in n.steps]}
                          for n in self.nodes]}


def settings(port: str, address: str) -> dict[str, str]:
    return {"connection.interface-name": port, "ipv4.method": "manual", "ipv4.addresses": address,
            "802-3-ethernet.mtu": str(int(limit("mtu"))), "ipv6.method": "link-local",
            "connection.autoconnect": "yes", "connection.autoconnect-priority": "100",
            "ipv4.never-default": "yes"}


def _differs(profile: Any, want: dict[str, str]) -> dict[str, str]:
    have = {"connection.interface-name": profile.iface or "", "ipv4.method": profile.ipv4_method or "",
            "ipv4.addresses": ",".join(profile.ipv4_addresses), "802-3-ethernet.mtu": str(profile.mtu or ""),
            "ipv6.method": profile.ipv6_method or "", "connection.autoconnect": "yes" if profile.autoconnect else "no"}
    return {k: v for k, v in want.items() if k in have and have[k] != v}


def _port_steps(st: Any, port: str, address: str) -> list[Step]:
    want = settings(port, address)
    name = PREFIX + port
    mine = next((p for p in st.profiles if p.name == name), None)
    steps: list[Step] = []
    if mine is None:
        args = [a for k, v in want.items() if k != "connection.interface-name" for a in (k, v)]
        steps.append(Step([*NMCLI, "connection", "add", "type", "ethernet", "con-name", name, "ifname", port, *args],
                          f"{port}: static {address}, MTU 9000"))
    else:
        diff = _differs(mine, want)
        if diff:
            steps.append(Step([*NMCLI, "connection", "modify", name, *[a for kv in diff.items() for a in kv]],
                              f"{port}: " + ", ".join(f"{k} {v}" for k, v in diff.items())))
    for other in st.profiles_on(port):
        if other.name != name and other.autoconnect:
            steps.append(Step([*NMCLI, "connection", "modify", other.uuid, "connection.autoconnect", "no"],
                              f"{port}: retire `{other.name}` ({other.ipv4_method or 'auto'}; kept for undo)"))
    link = st.links.get(port) if st.links else None
    active = mine is not None and mine.device == port
    in_place = link is not None and address in link.ipv4 and link.mtu == int(limit("mtu"))
    if steps or not active or not in_place:
        steps.append(Step([*NMCLI, "connection", "up", name], f"{port}: activate {name}"))
    return steps


def _netplan_notes(st: Any, ports: list[str]) -> list[str]:
    notes = []
    plan = st.netplan
    for iface in (plan.interfaces if plan else []):
        if iface.device not in ports:
            continue
        renderer = plan.effective_renderer(iface)
        if renderer.lower() == "networkd":
            notes.append(f"{iface.file} configures {iface.device} for networkd, which DGX OS does not run: "
                         f"it is ignored; remove {iface.device} from it so nobody trusts it")
        else:
            notes.append(f"{iface.file} configures {iface.device} through NetworkManager too (netplan-"
                         f"{iface.device}): it competes with {PREFIX}{iface.device}; remove {iface.device} "
                         "from it and run `sudo netplan apply` (its profile is retired here)")
    return notes


def make_plan(states: list[Any], inventory: list[list[str]] | None = None) -> NetPlan:
    fab = cable_map(states)
    nodes = [NodePlan(st.name, st.host) for st in states]
    out = NetPlan(fab, nodes)
    for st in states:
        if not st.reachable:
            out.problems.append(f"{st.name}: not reachable ({st.reason})")
        elif st.nm_reason:
            out.problems.append(f"{st.name}: NetworkManager does not answer ({st.nm_reason}); "
                                "sparkpilot configures the ports through nmcli")
    if fab.topology in ("none", "partial"):
        out.problems.append(f"no usable fabric: {fab.why}")
    if out.problems:
        return out
    addrs: dict[Port, str] = addresses(fab, inventory)
    for (i, port), address in sorted(addrs.items(), key=lambda kv: (kv[0][0], rail_key(kv[0][1]))):
        nodes[i].ports[port] = address
    for i, st in enumerate(states):
        for port, address in nodes[i].ports.items():
            nodes[i].steps += _port_steps(st, port, address)
        nodes[i].notes += _netplan_notes(st, list(nodes[i].ports))
    return out


def render(plan: NetPlan, names: list[str]) -> str:
    from sparkpilot.netcfg.topology import describe

    lines = [f"topology: {plan.fabric.topology} ({plan.fabric.why})", "cable map (seen on the links):"]
    lines += [f"  {ln}" for ln in describe(plan.fabric, names)] or ["  (none)"]
    for p in plan.problems:
        lines.append(f"problem: {p}")
    for n in plan.nodes:
        if n.ports:
            lines.append(f"{n.name}: " + ", ".join(f"{p} {a}" for p, a in n.ports.items()))
        for s in n.steps:
            retire = "retire `" in s.why
            lines.append(f"  sudo {s.text}" + (f"   # {s.why.split(': ', 1)[1]}" if retire else ""))
        for note in n.notes:
            lines.append(f"  note: {note}")
    if not plan.problems:
        lines.append(f"{plan.changes} change(s)" if plan.changes else "nothing to change: the fabric is as planned")
    return "\n".join(lines)
