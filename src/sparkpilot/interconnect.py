"""The interconnect environment (CONTRACTS.md, "The interconnect environment").

One function computes, per node, the environment NCCL, Gloo, UCX and Ray/vLLM need from what the
host has: its RoCE devices and their netdevs, the RoCEv2 + IPv4 GID index, and its addresses.
doctor computes it when it checks, net verifies it, plan and up take it with --inventory/--host.
Without host facts it returns clearly marked placeholders and says how to fill them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RoceDevice:
    ibdev: str                  # e.g. "rocep1s0f1"
    netdev: str                 # e.g. "enp1s0f1np1"
    state: str | None = None    # "Up" / "Down" as ibdev2netdev prints it
    gid_index: int | None = None  # the RoCEv2 + IPv4 GID index on this device (None: unknown)
    ipv4: str | None = None


@dataclass
class NodeNet:
    name: str
    devices: list[RoceDevice] = field(default_factory=list)
    address: str | None = None  # the interconnect address Ray / vLLM use on this node

    @property
    def up_devices(self) -> list[RoceDevice]:
        return [d for d in self.devices if (d.state or "").lower() in ("up", "active", "")]


def placeholder(var: str) -> str:
    """A short marked value, e.g. `<NCCL_IB_HCA>`; whoever shows it says once how to fill it in."""
    return f"<{var}>"


def is_placeholder(value: str) -> bool:
    return value.startswith("<") and value.endswith(">")


def interconnect_env(node: NodeNet | None, pin_gid: bool = True, topology: str | None = None) -> dict[str, str]:
    """NCCL_IB_HCA, NCCL_IB_GID_INDEX, NCCL_SOCKET_IFNAME, GLOO_SOCKET_IFNAME, UCX_NET_DEVICES and
    VLLM_HOST_IP for one node; placeholders (see is_placeholder) where the facts are unknown.

    pin_gid=False (a stack whose NCCL is 2.21 or newer, CONTRACTS.md "The interconnect environment"):
    NCCL_IB_GID_INDEX is left out, since NCCL's default (-1) picks the RoCEv2 GID by address family and
    a pinned index breaks when the GID table reorders (tonyd2wild/...-2x-DGX-Spark PR 40: 3 -> 4).
    topology "ring" (net's cable map) adds NVIDIA's ring settings: NCCL_IB_SUBNET_AWARE_ROUTING=1
    and NCCL_NET_PLUGIN=none (dgx-spark-playbooks nvidia/nccl/assets/launch.sh)."""
    devices = [d for d in (node.up_devices if node else []) if d.ipv4 or d.gid_index is not None] \
        or (node.up_devices if node else [])
    env: dict[str, str] = {}
    if devices:
        env["NCCL_IB_HCA"] = ",".join(d.ibdev for d in devices)
    else:
        env["NCCL_IB_HCA"] = placeholder("NCCL_IB_HCA")
    gids = {d.gid_index for d in devices if d.gid_index is not None}
    if pin_gid and len(gids) == 1:
        env["NCCL_IB_GID_INDEX"] = str(gids.pop())
    elif pin_gid:  # unknown, or devices of one node that disagree: NCCL takes one index per process
        env["NCCL_IB_GID_INDEX"] = placeholder("NCCL_IB_GID_INDEX")
    first = next((d for d in devices if d.ipv4), devices[0] if devices else None)
    for var in ("NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "UCX_NET_DEVICES"):
        env[var] = first.netdev if first else placeholder(var)
    address = (node.address if node else None) or (first.ipv4 if first else None)
    env["VLLM_HOST_IP"] = address or placeholder("VLLM_HOST_IP")
    if topology == "ring":
        env["NCCL_IB_SUBNET_AWARE_ROUTING"] = "1"
        env["NCCL_NET_PLUGIN"] = "none"
    return env


def node_net(host_facts) -> NodeNet:
    """NodeNet from a host's facts (sparkpilot.facts.HostFacts): its RoCE devices (ibdev2netdev),
    each device's RoCEv2 + IPv4 GID index (the GID whose address is the netdev's own, else the
    first RoCEv2 IPv4 one) and address; unknown facts stay None, so interconnect_env writes
    placeholders for them."""
    name = host_facts.name or host_facts.host
    ib = host_facts.get("ibdev2netdev")
    if not ib:
        return NodeNet(name, [], host_facts.interconnect[0] if host_facts.interconnect else None)
    gids = host_facts.get("gids")
    links = host_facts.get("ip-addr")
    devices = []
    for m in ib.mappings:
        link = links.get(m.netdev) if links else None
        ipv4 = link.ipv4[0].split("/")[0] if link and link.ipv4 else None
        index = None
        if gids:
            rows = gids.rocev2_ipv4(m.ibdev)
            own = [g for g in rows if ipv4 and g.ipv4 == ipv4]
            pick = (own or rows or [None])[0]
            index = pick.index if pick else None
            if ipv4 is None and pick is not None:
                ipv4 = pick.ipv4
        devices.append(RoceDevice(m.ibdev, m.netdev, m.state, index, ipv4))
    address = host_facts.interconnect[0] if host_facts.interconnect else None
    return NodeNet(name, devices, address)
