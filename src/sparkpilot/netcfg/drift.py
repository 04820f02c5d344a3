"""The interconnect environment per node, and drift since the last good `net check`.

The environment comes from the one core function (sparkpilot.interconnect.interconnect_env) fed
with the ports the cable map shows in use: NCCL_IB_HCA lists both logical ports of each cable.
A good check leaves a summary on each host (${SPARKPILOT_HOST_ROOT}/var/lib/sparkpilot/net/
last-good.json); `--drift` compares today's with it: GID index, MTU, addresses, the profile that
owns each port (NetworkManager overriding a netplan setup), netplan files, Docker's FORWARD policy.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sparkpilot.netcfg.gather import NET_DIR
from sparkpilot.netcfg.topology import Fabric
from sparkpilot.probes import ROOT


def node_nets(states: list[Any], fab: Fabric) -> list[Any]:
    from sparkpilot.interconnect import NodeNet, RoceDevice
    from sparkpilot.netcfg.topology import rail_key

    nets = []
    for i, st in enumerate(states):
        ports = sorted({p for seg in fab.segments for (j, p) in seg if j == i}, key=rail_key)
        devices = []
        for port in ports:
            ibdev = st.ibdev(port)
            if not ibdev:
                continue
            ln = st.links.get(port) if st.links else None
            ipv4 = ln.ipv4[0].split("/")[0] if ln and ln.ipv4 else None
            rows = st.gids.rocev2_ipv4(ibdev) if st.gids else []
            own = [g for g in rows if ipv4 and g.ipv4 == ipv4]
            devices.append(RoceDevice(ibdev, port, "Up", own[0].index if own else None, ipv4))
        nets.append(NodeNet(st.name, devices, next((d.ipv4 for d in devices if d.ipv4), None)))
    return nets


RING_BOOTSTRAP = ("NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "UCX_NET_DEVICES", "VLLM_HOST_IP")


def environments(states: list[Any], fab: Fabric) -> dict[str, dict[str, str]]:
    """Per node. On a ring no QSFP subnet reaches every node (each link is its own /24), so the
    bootstrap variables are left as placeholders: NVIDIA's ring playbook bootstraps over the
    management interface (nvidia/nccl/assets/launch.sh: NCCL_SOCKET_IFNAME / UCX_NET_DEVICES = enP7s7)."""
    envs = _environments(states, fab)
    if fab.topology == "ring":
        from sparkpilot.interconnect import placeholder

        for env in envs.values():
            env.update({k: placeholder(k) for k in RING_BOOTSTRAP})
    return envs


def _environments(states: list[Any], fab: Fabric) -> dict[str, dict[str, str]]:
    from sparkpilot.interconnect import interconnect_env

    # a GID index is pinned only where every device's RoCEv2 IPv4 GID is known; otherwise it is left
    # unset (NCCL 2.21+ picks it by address family, CONTRACTS "The interconnect environment")
    return {net.name: interconnect_env(net, pin_gid=bool(net.devices) and all(d.gid_index is not None for d in net.devices),
                                       topology=fab.topology) for net in node_nets(states, fab)}


def summary(st: Any, fab: Fabric, index: int) -> dict[str, Any]:
    ports = sorted({p for seg in fab.segments for (j, p) in seg if j == index})
    out: dict[str, Any] = {"ports": {}, "gids": {}, "netplan": [], "forward": st.forward}
    for port in ports:
        ln = st.links.get(port) if st.links else None
        dev_state = st.nm_devices.get(port, ("", ""))
        out["ports"][port] = {"mtu": ln.mtu if ln else None, "ipv4": ln.ipv4 if ln else [],
                              "profile": dev_state[1] or None}
        ibdev = st.ibdev(port)
        if ibdev and st.gids:
            rows = st.gids.rocev2_ipv4(ibdev)
            out["gids"][ibdev] = rows[0].index if rows else None
    if st.netplan:
        out["netplan"] = sorted(f"{i.file}:{i.device}:{st.netplan.effective_renderer(i)}" for i in st.netplan.interfaces)
    return out


def save_script(data: dict[str, Any]) -> str:
    blob = base64.b64encode(json.dumps(data, sort_keys=True).encode()).decode()
    return (f'R={ROOT}; mkdir -p "$R{NET_DIR}" && echo {blob} | base64 -d > "$R{NET_DIR}/last-good.json.tmp" '
            f'&& mv "$R{NET_DIR}/last-good.json.tmp" "$R{NET_DIR}/last-good.json"')


def compare(before: dict[str, Any], now: dict[str, Any], topology: str) -> list[str]:
    changes = []
    for port in sorted(set(before.get("ports", {})) | set(now.get("ports", {}))):
        b, n = before.get("ports", {}).get(port), now.get("ports", {}).get(port)
        if b is None or n is None:
            changes.append(f"{port}: {'now in use' if b is None else 'no longer in use'}")
            continue
        for key in ("mtu", "ipv4", "profile"):
            if b.get(key) != n.get(key):
                what = {"mtu": "MTU", "ipv4": "addresses", "profile": "owning NetworkManager profile"}[key]
                changes.append(f"{port}: {what} {b.get(key)} -> {n.get(key)}")
    for dev in sorted(set(before.get("gids", {})) | set(now.get("gids", {}))):
        if before.get("gids", {}).get(dev) != now.get("gids", {}).get(dev):
            changes.append(f"{dev}: RoCEv2 IPv4 GID index {before.get('gids', {}).get(dev)} -> {now.get('gids', {}).get(dev)}")
    if before.get("netplan") != now.get("netplan"):
        changes.append(f"netplan files changed: {before.get('netplan')} -> {now.get('netplan')}")
    if before.get("forward") != now.get("forward"):
        changes.append(f"Docker/iptables FORWARD policy {before.get('forward')} -> {now.get('forward')}")
    if topology == "ring" and (now.get("forward") or "").endswith("DROP"):
        changes.append("FORWARD policy DROP on a ring: transit between the other two Sparks is dropped "
                       "(sudo iptables -P FORWARD ACCEPT, or a DOCKER-USER accept rule for the QSFP ports)")
    return changes
