"""Network checks on one host: QSFP MTU, netplan that does nothing, RoCE GID index, cable ports."""

from __future__ import annotations

import re
from typing import Any

from sparkpilot.checks import CheckResult, unknown

def _jumbo() -> int:
    """The QSFP MTU, from knowledge/fabric.yaml (one place: net plans and checks with the same)."""
    from sparkpilot.knowledge.fabric import limit

    return int(limit("mtu"))


JUMBO = _jumbo()


def qsfp_links(facts: Any) -> Any:
    """The host's QSFP (ConnectX-7) netdevs: from ibdev2netdev when known, else by name."""
    links = facts.get("ip-addr")
    if not links:
        return links
    ib = facts.get("ibdev2netdev")
    names = {m.netdev for m in ib.mappings} if ib else set()
    return [ln for ln in links.links if ln.name in names or ln.is_qsfp]


def _nm_fix(facts: Any, names: list[str]) -> tuple[str, list[list[str]]]:
    nm = facts.get("nmcli")
    cmds, texts = [], []
    for n in names:
        dev = nm.get(n) if nm else None
        if dev and dev.connection:
            conn = dev.connection
            cmds += [["sudo", "-n", "nmcli", "con", "mod", conn, "802-3-ethernet.mtu", str(JUMBO)],
                     ["sudo", "-n", "nmcli", "con", "up", conn]]
            texts.append(f"sudo nmcli con mod '{conn}' 802-3-ethernet.mtu {JUMBO} && sudo nmcli con up '{conn}'")
        else:
            # the probe did not name the connection: the command reads it from NetworkManager on the host
            # (`nmcli -g GENERAL.CONNECTION device show DEV`), so nothing is left to fill in by hand
            script = (f'c=$(nmcli -g GENERAL.CONNECTION device show {n}) && [ -n "$c" ] && '
                      f'nmcli con mod "$c" 802-3-ethernet.mtu {JUMBO} && nmcli con up "$c"')
            cmds.append(["sudo", "-n", "sh", "-c", script])
            texts.append(f"sudo sh -c '{script}'")
    texts.append("or the whole fabric, with rollback: sparkpilot net apply --apply --host ... (one per node)")
    return "; ".join(texts), cmds


def check_mtu(facts: Any) -> CheckResult:
    ports = qsfp_links(facts)
    if not isinstance(ports, list):
        return unknown(ports)
    if not ports:
        return CheckResult("skip", "no QSFP (ConnectX-7) ports on this host", data={"ports": {}})
    up = [p for p in ports if p.carrier]
    data = {"ports": {p.name: {"mtu": p.mtu, "link": p.carrier} for p in ports}}
    if not up:
        return CheckResult("skip", "no QSFP port has a link (no cable: single-node use)", data=data)
    low = [p for p in up if (p.mtu or 0) < JUMBO]
    if low:
        fix, cmds = _nm_fix(facts, [p.name for p in low])
        return CheckResult("fail", "MTU below 9000 on " + ", ".join(f"{p.name} ({p.mtu})" for p in low),
                           fix, data, cmds)
    return CheckResult("pass", "MTU 9000 on " + ", ".join(p.name for p in up), data=data)


def check_netplan_ignored(facts: Any) -> CheckResult:
    plan, svc, links = facts.get("netplan"), facts.get("services"), facts.get("ip-addr")
    if not plan:
        return unknown(plan)
    unreadable = [f.path for f in plan.files if not f.readable]
    if not plan.interfaces:
        if unreadable:
            return unknown(f"netplan files not readable without passwordless sudo: {', '.join(unreadable)}")
        return CheckResult("pass", f"no netplan file configures an interface ({len(plan.files)} files)",
                           data={"files": [f.path for f in plan.files]})
    qsfp = [i for i in plan.interfaces if re.match(r"^en[pP]\w*np\d+$", i.device)] or plan.interfaces
    networkd = svc.states.get("systemd-networkd") if svc else None
    nm_state = svc.states.get("NetworkManager") if svc else None
    rows, dead, mismatch = [], [], []
    for iface in qsfp:
        renderer = plan.effective_renderer(iface)
        link = links.get(iface.device) if links else None
        row = {"interface": iface.device, "file": iface.file, "renderer": renderer, "mtu": iface.mtu,
               "addresses": iface.addresses, "port_mtu": link.mtu if link else None,
               "port_addresses": link.ipv4 if link else None}
        rows.append(row)
        if renderer.lower() == "networkd" and networkd is not None and networkd != "active":
            dead.append(iface)
        if link:
            if iface.mtu and link.mtu != iface.mtu:
                mismatch.append(f"{iface.device} MTU {link.mtu}, file asks {iface.mtu}")
            missing = [a for a in iface.addresses if a not in link.ipv4]
            if missing:
                mismatch.append(f"{iface.device} lacks {', '.join(missing)}")
    data = {"interfaces": rows, "systemd-networkd": networkd, "NetworkManager": nm_state,
            "global_renderer": plan.global_renderer}
    if dead:
        files = sorted({i.file for i in dead})
        return CheckResult(
            "fail", f"{', '.join(files)} is rendered for networkd but systemd-networkd is {networkd}: "
            f"it silently does nothing for {', '.join(i.device for i in dead)}"
            + (f" ({'; '.join(mismatch)})" if mismatch else ""),
            "configure the ports with nmcli (sudo nmcli con mod <conn> ipv4.addresses ADDR/24 ipv4.method manual "
            "802-3-ethernet.mtu 9000) or set `renderer: NetworkManager` in the file", data)
    if networkd is None and any(plan.effective_renderer(i).lower() == "networkd" for i in qsfp):
        return unknown(f"netplan renders {', '.join(i.device for i in qsfp)} for networkd, and whether "
                       f"systemd-networkd runs is unknown ({getattr(svc, 'reason', '')})", **data)
    how = ", ".join(sorted({plan.effective_renderer(i) for i in qsfp}))
    if mismatch:
        return CheckResult("warn", f"netplan ({how}) asks for what the ports do not have: " + "; ".join(mismatch),
                           "sudo netplan apply, or set the ports with nmcli", data)
    return CheckResult("pass", f"netplan files are applied through {how}"
                       + (" (NetworkManager applies them)" if "NetworkManager" in how else "")
                       + ("; the ports have what they ask" if links else ""), data=data)


def nccl_picks_gid(cluster: Any) -> tuple[bool | None, str]:
    """(NCCL 2.21+ picks the RoCEv2 GID itself?, the stack's name and NCCL) for the launch's image
    (--image / the inventory's; else the default stack): CONTRACTS.md "The interconnect environment"."""
    from sparkpilot.rules import stacks

    st, _ = stacks.resolve(None, getattr(cluster, "image", None))
    return stacks.nccl_auto_gid(st), f"{st['name']} (NCCL {st.get('nccl') or 'unknown'})"


def check_roce_gid(facts: Any, cluster: Any = None) -> CheckResult:
    from sparkpilot.interconnect import interconnect_env, is_placeholder, node_net

    ib = facts.get("ibdev2netdev")
    if not ib:
        return unknown(ib)
    if not ib.up:
        return CheckResult("skip", "no RoCE device is up (no cable)",
                           data={"devices": [m.ibdev for m in ib.mappings]})
    gids = facts.get("gids")
    if not gids:
        return unknown(gids)
    net = node_net(facts)
    devices: list[dict[str, Any]] = [{"ibdev": d.ibdev, "netdev": d.netdev, "gid_index": d.gid_index, "ipv4": d.ipv4}
               for d in net.up_devices]
    env = interconnect_env(net)
    launch = env["NCCL_IB_GID_INDEX"]
    want = getattr(cluster, "gid_index", None)
    data = {"devices": devices, "NCCL_IB_GID_INDEX": None if is_placeholder(launch) else int(launch),
            "NCCL_IB_HCA": env["NCCL_IB_HCA"]}
    missing = [d["ibdev"] for d in devices if d["gid_index"] is None]
    if missing:
        return CheckResult("fail", f"no RoCEv2 IPv4 GID on {', '.join(missing)}: the port has no IPv4 address",
                           "give the port an address with nmcli (see the mtu check's connection)", data)
    indexes = sorted({d["gid_index"] for d in devices})
    per = ", ".join(f"{d['ibdev']} {d['gid_index']}" for d in devices)
    auto, stack = nccl_picks_gid(cluster)
    data["nccl_picks_gid"] = auto
    if auto:
        if want is not None:
            data["launch_gid_index"] = want
            return CheckResult("warn", f"the launch pins NCCL_IB_GID_INDEX={want} on {stack}, which picks the RoCEv2 "
                               f"GID itself ({per} here): a pinned index breaks when the GID table reorders",
                               "leave NCCL_IB_GID_INDEX unset (every QSFP port has its IPv4 address: NCCL finds it)",
                               data)
        return CheckResult("pass", f"RoCEv2 IPv4 GID on every port ({per}); {stack} picks it itself, so "
                           "NCCL_IB_GID_INDEX stays unset", data=data)
    if len(indexes) > 1:
        return CheckResult("warn", f"RoCEv2 IPv4 GID index differs between this node's devices ({per}); "
                           "NCCL takes one NCCL_IB_GID_INDEX per process",
                           "use only the devices that share one index in NCCL_IB_HCA, or re-apply the addresses", data)
    have = indexes[0]
    if want is not None and want != have:
        data["launch_gid_index"] = want
        return CheckResult("warn", f"the launch uses NCCL_IB_GID_INDEX={want} but this node's RoCEv2 IPv4 GID "
                           f"index is {have} ({per})", f"set NCCL_IB_GID_INDEX={have} on this node", data)
    note = "" if have == 3 else " (the reference says 3; this node differs, sparkpilot's env uses its own)"
    return CheckResult("pass", f"RoCEv2 IPv4 GID index {have} on {', '.join(d['ibdev'] for d in devices)}{note}",
                       data=data)


def check_qsfp_ports(facts: Any) -> CheckResult:
    ib = facts.get("ibdev2netdev")
    if not ib:
        return unknown(ib)
    if not ib.mappings:
        return CheckResult("skip", "no RoCE devices", data={})
    # one cable port = one function number (f0/f1); the 400G DAC shows as two logical ports on
    # two PCIe domains (enp1s0fNnpN and enP2p1s0fNnpN), both up, same cable serial.
    groups: dict[str, list] = {}
    for m in ib.mappings:
        fn = re.search(r"f(\d+)(?:np\d+)?$", m.netdev)
        groups.setdefault(fn.group(1) if fn else m.netdev, []).append(m)
    mods = facts.get("ethtool-module")
    serials = {}
    if mods:
        serials = {mo.netdev: mo.serial for mo in mods.modules if mo.serial}
    eth = facts.get("ethtool")
    pci = {p.netdev: p.bus_info for p in eth.ports if p.bus_info} if eth else {}
    data = {"ports": {k: {m.netdev: m.state for m in v} for k, v in groups.items()}, "serials": serials,
            "pci": pci}
    used = {k: v for k, v in groups.items() if any(m.state.lower() == "up" for m in v)}
    if not used:
        return CheckResult("skip", "no cable: every QSFP port is down (single-node use)", data=data)
    half = [(k, [m.netdev for m in v if m.state.lower() != "up"]) for k, v in used.items()
            if any(m.state.lower() != "up" for m in v)]
    if half:
        k, down = half[0]
        return CheckResult("warn", f"cable port {k}: only part of the cable's logical ports are up ({', '.join(down)} "
                           "down): half the bandwidth", "reseat the cable, then reboot with it attached "
                           "(hot-plugged links can stay degraded)", data)
    msg = "; ".join(f"cable port {k}: {' + '.join(m.netdev for m in v)} up" for k, v in used.items())
    up_names = [m.netdev for v in used.values() for m in v]
    known: list[str] = [s for n in up_names if (s := serials.get(n))]
    if len(set(known)) > 1:
        return CheckResult("warn", msg + f"; serials differ ({', '.join(sorted(set(known)))}): two cables?", data=data)
    if known:
        msg += f"; same cable serial {known[0]} (normal for this cable)"
    elif not mods:
        msg += f"; cable serial unknown ({mods.reason})"
    elif mods.modules and all("password" in (mo.error or "") for mo in mods.modules):
        msg += "; cable serial unknown (needs passwordless sudo for ethtool -m)"
    else:
        msg += "; cable serial not reported"
    return CheckResult("pass", msg, data=data)
