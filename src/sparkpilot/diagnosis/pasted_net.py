"""Network and RDMA tool output for `sparkpilot diagnose` (see sparkpilot.diagnosis.pasted).

ip link/addr (also -br), ethtool, dmesg mlx5 link lines, ibv_devinfo [-v], show_gids, ibdev2netdev,
perftest ib_write_bw / ib_write_lat, nccl-tests *_perf and NCCL_DEBUG=INFO init lines, judged with
knowledge/fabric.yaml; show_gids is read by doctor's own parser (probes.rdma).
"""

from __future__ import annotations

import re

from sparkpilot.diagnosis.paste import QSFP_RE, Paste, fabric, strip_prompt


# ----------------------------------------------------------------------------- links
def _judge_mtu(p: Paste, name: str, mtu: int | None, up: bool) -> None:
    need = int(fabric("mtu")["pass_at_least"])
    if mtu is None or not QSFP_RE.match(name):
        return
    if mtu < need:
        level = "fail" if up else "warn"
        p.add(level, "mtu", f"{name}: MTU {mtu}, not {need}" + ("" if up else " (link down)"), fabric("mtu")["fix"])
    else:
        p.add("ok", "mtu", f"{name}: MTU {mtu}")


def ip_link(text: str) -> Paste | None:
    full = re.findall(r"^\d+:\s+([\w.@-]+?)(?:@\S+)?:\s+<([^>]*)>.*?\bmtu (\d+).*?\bstate (\w+)", text, re.MULTILINE)
    brief = [] if full else re.findall(r"^([\w.@-]+)\s+(UP|DOWN|UNKNOWN|LOWERLAYERDOWN)\s+(?:\S+\s+)?<([^>]*)>",
                                       text, re.MULTILINE)
    addrs = [] if full or brief else re.findall(
        r"^([\w.@-]+)\s+(UP|DOWN|UNKNOWN|LOWERLAYERDOWN)\b[ \t]*((?:[0-9a-f.:]+/\d+[ \t]*)*)$", text, re.MULTILINE)
    if not full and not brief and len(addrs) < 2:
        return None
    p = Paste("ip", "ip addr / ip link" if full else "ip -br link" if brief else "ip -br addr")
    brief = brief or [(n, st, "") for n, st, _ in addrs]
    links = {}
    for name, flags, mtu, state in full:
        links[name] = {"state": state, "mtu": int(mtu), "carrier": "NO-CARRIER" not in flags}
    for name, state, flags in brief:
        links[name.split("@")[0]] = {"state": state, "mtu": None, "carrier": "NO-CARRIER" not in flags}
    for name, _, ips in addrs:
        links[name.split("@")[0]]["ipv4"] = [a for a in ips.split() if "." in a]
    p.facts["links"] = links
    for name, info in links.items():
        if not QSFP_RE.match(name):
            continue
        up = info["state"] == "UP" and info["carrier"]
        if up:
            p.add("ok", "qsfp-ports", f"{name}: UP" + (f" {' '.join(info['ipv4'])}" if info.get("ipv4") else ""))
        else:
            p.add("warn" if "NO-CARRIER" not in text or info["carrier"] else "info", "qsfp-ports",
                  f"{name}: {info['state']}" + ("" if info["carrier"] else ", no carrier (no cable on this port?)"))
        _judge_mtu(p, name, info["mtu"], up)
    if full:
        for name, addr in re.findall(r"^\s+inet (\S+) .*?\b([\w.-]+)$", text, re.MULTILINE):
            links.get(addr, {}).setdefault("ipv4", []).append(name)
    return p


def ethtool(text: str) -> Paste | None:
    speed = re.search(r"^\s*Speed:\s*(\S+)", text, re.MULTILINE)
    fec = re.search(r"Active FEC encoding:\s*(\S+)", text)
    if not speed and not fec:
        return None
    p = Paste("ethtool", "ethtool" + (" (FEC)" if fec and not speed else ""))
    dev = re.search(r"(?:Settings|FEC parameters) for (\S+?):", text)
    p.facts["device"] = dev[1] if dev else None
    if fec:
        p.facts["fec"] = fec[1]
        p.add("info", "link-speed", f"active FEC: {fec[1]}")
    if speed:
        p.facts["speed"] = speed[1]
        entry = fabric("link-speed")
        m = re.match(r"(\d+)Mb/s", speed[1])
        if not m:
            p.add("fail", "link-speed", f"speed {speed[1]}: no link", entry["fix"])
        elif int(m[1]) < int(entry["pass_at_least"]):
            p.add("fail", "link-speed", f"link at {m[1]}Mb/s, not {int(entry['pass_at_least'])}Mb/s", entry["fix"])
        else:
            p.add("ok", "link-speed", f"link at {m[1]}Mb/s")
    detected = re.search(r"Link detected:\s*(\w+)", text)
    if detected and detected[1] == "no":
        p.add("fail", "qsfp-ports", "Link detected: no (cable or far end)", fabric("link-speed")["fix"])
    return p


def dmesg(text: str) -> Paste | None:
    events = re.findall(r"mlx5_core \S+ (\S+?): Link (up|down)", text)
    plugs = re.findall(r"Cable (plugged|unplugged)", text)
    if not events and not plugs:
        return None
    p = Paste("dmesg", "dmesg (mlx5 link lines)")
    last: dict[str, str] = {}
    flaps: dict[str, int] = {}
    for dev, state in events:
        flaps[dev] = flaps.get(dev, 0) + (state == "down")
        last[dev] = state
    p.facts.update({"links": last, "cable_events": plugs})
    for dev, state in last.items():
        p.add("ok" if state == "up" else "fail", "qsfp-ports", f"{dev}: last link {state}"
              + (f" after {flaps[dev]} link-down event(s)" if flaps.get(dev) else ""))
    if "plugged" in plugs:
        p.add("warn", "rdma-hotplug-degraded", "the cable was plugged into a running Spark: such links can stay "
              "degraded (~13 Gb/s per rail) until a reboot", fabric("rdma-hotplug-degraded")["fix"])
    return p


# ----------------------------------------------------------------------------- RDMA
def ibv_devinfo(text: str) -> Paste | None:
    if "hca_id:" not in text:
        return _ibv_port_excerpt(text)
    p = Paste("ibv_devinfo", "ibv_devinfo" + (" -v" if "max_qp:" in text or "GID[" in text else ""))
    ports = {}
    for block in re.split(r"^hca_id:", text, flags=re.MULTILINE)[1:]:
        name = block.split()[0]
        state = re.search(r"state:\s*(\w+)", block)
        mtu = re.search(r"active_mtu:\s*(\d+)", block)
        ports[name] = {"state": state[1] if state else None, "active_mtu": int(mtu[1]) if mtu else None}
    p.facts["ports"] = ports
    for name, info in ports.items():
        if info["state"] != "PORT_ACTIVE":
            p.add("info", "qsfp-ports", f"{name}: {info['state']} (no link on this port)")
        elif isinstance(info["active_mtu"], int) and info["active_mtu"] < 4096:
            p.add("fail", "mtu", f"{name}: active RDMA MTU {info['active_mtu']} (the interface MTU is below 9000)",
                  fabric("mtu")["fix"])
        else:
            p.add("ok", "qsfp-ports", f"{name}: active, RDMA MTU {info['active_mtu']}")
    if not any(i["state"] == "PORT_ACTIVE" for i in ports.values()):
        p.add("fail", "qsfp-ports", "no RDMA port is active", fabric("link-speed")["fix"])
    return p


def _ibv_port_excerpt(text: str) -> Paste | None:
    """Port lines of `ibv_devinfo -v` quoted without their hca_id (state, phys_state, width, speed)."""
    state = re.search(r"^\s*state:\s*(\w+)", text, re.MULTILINE)
    phys = re.search(r"phys_state:\s*(\w+)", text)
    if not state or not phys:
        return None
    p = Paste("ibv_devinfo", "ibv_devinfo -v (port lines)")
    width = re.search(r"active_width:\s*(\S+)", text)
    speed = re.search(r"active_speed:\s*([\d.]+ \w+)", text)
    p.facts.update({"state": state[1], "phys_state": phys[1], "active_width": width[1] if width else None,
                    "active_speed": speed[1] if speed else None})
    if state[1] != "PORT_ACTIVE" or phys[1] != "LINK_UP":
        p.add("fail", "qsfp-ports", f"port {state[1]}, {phys[1]}", fabric("link-speed")["fix"])
    else:
        p.add("ok", "qsfp-ports", "port active, link up" + (f", {width[1]} at {speed[1]}" if width and speed else ""))
    return p


def show_gids(text: str) -> Paste | None:
    if not re.search(r"^DEV\s+PORT\s+INDEX\s+GID", text, re.MULTILINE):
        return None
    from sparkpilot.probes.rdma import parse_show_gids

    try:
        table = parse_show_gids(strip_prompt(text))
    except ValueError:   # a header and no rows, or rows of something else: not a GID table to judge
        return None
    p = Paste("show_gids", "show_gids")
    v2: dict[str, int] = {}
    for g in table.gids:
        if g.version == "v2" and g.ipv4:
            v2.setdefault(g.ibdev, g.index)
    p.facts["roce_v2_ipv4_index"] = v2
    for dev, index in v2.items():
        p.add("ok", "roce-gid", f"{dev}: RoCE v2 + IPv4 at GID index {index} (NCCL_IB_GID_INDEX={index} on this node)")
    if not v2:
        p.add("fail", "roce-gid", "no RoCE v2 GID with an IPv4 address: the QSFP ports have no IPv4 address",
              "Give each QSFP port its address (sparkpilot net plan / --apply), then run show_gids again.")
    return p


def ibdev2netdev(text: str) -> Paste | None:
    if not re.search(r"^\S+ port \d+ ==> \S+ \(\w+\)", text, re.MULTILINE):
        return None
    from sparkpilot.probes.rdma import (
        parse_ibdev2netdev,  # doctor's parser: the same format
    )

    devices = parse_ibdev2netdev(strip_prompt(text))
    rows = [(m.ibdev, m.netdev, m.state) for m in devices.mappings]
    p = Paste("ibdev2netdev", "ibdev2netdev")
    p.facts["ports"] = {dev: {"netdev": net, "state": st} for dev, net, st in rows}
    up = [dev for dev, _, st in rows if st == "Up"]
    for dev, net, st in rows:
        p.add("ok" if st == "Up" else "info", "qsfp-ports", f"{dev} ==> {net} ({st})")
    if not up:
        p.add("fail", "qsfp-ports", "no RDMA device is Up: no QSFP link", fabric("link-speed")["fix"])
    return p


def perftest(text: str) -> Paste | None:
    bw = re.search(r"#bytes\s+#iterations\s+BW peak\[(\w+)/sec\]\s+BW average\[\w+/sec\]", text)
    lat = re.search(r"#bytes\s+#iterations\s+t_min\[usec\]", text)
    if not bw and not lat:
        return None
    qps = re.search(r"Number of qps\s*:\s*(\d+)", text)
    dev = re.search(r"Device\s*:\s*(\S+)", text)
    p = Paste("ib_write_bw" if bw else "ib_write_lat", "perftest " + ("ib_write_bw" if bw else "ib_write_lat"))
    p.facts.update({"device": dev[1] if dev else None, "qps": int(qps[1]) if qps else None})
    if lat:
        row = re.search(r"^\s*\d+\s+\d+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", text[lat.end():], re.MULTILINE)
        if row:
            p.facts["t_avg_usec"] = float(row[4])
            p.add("info", "rdma-latency", f"average write latency {row[4]} us (no threshold is known for it)")
        return p
    rows = re.findall(r"^\s*\d+\s+\d+\s+([\d.]+)\s+([\d.]+)\s+[\d.]+", text[bw.end():], re.MULTILINE) if bw else []
    if not rows:
        return p
    avg = float(rows[-1][1]) * (8 / 1000 if bw and bw[1] == "MB" else 1.0)
    p.facts["bw_average_gbps"] = avg
    port = fabric("rdma-write-bw-port")
    hot = fabric("rdma-hotplug-degraded")["healthy"]
    if float(hot[0]) - 1 <= avg <= float(hot[1]) + 1:
        p.add("fail", "rdma-hotplug-degraded", f"{avg:g} Gb/s: the figure of a hot-plugged, degraded link",
              fabric("rdma-hotplug-degraded")["fix"])
    elif avg < float(port["pass_at_least"]):
        few = p.facts["qps"] is not None and p.facts["qps"] < int(port.get("multi_qp_at_least", 4))
        p.add("warn" if few else "fail", "rdma-write-bw-port",
              f"{avg:g} Gb/s, under the {port['pass_at_least']} Gb/s a healthy port reaches"
              + (f" (only {p.facts['qps']} QP: run with -q 4 before judging)" if few else ""), port["fix"])
    else:
        p.add("ok", "rdma-write-bw-port", f"{avg:g} Gb/s average (healthy: {port['healthy'][0]}-{port['healthy'][1]})")
    return p


# ----------------------------------------------------------------------------- NCCL
def nccl_tests(text: str) -> Paste | None:
    avg = re.search(r"Avg bus bandwidth\s*:\s*([\d.]+)", text)
    if not avg and "out-of-place" not in text:
        return None
    name = re.search(r"(\w+)_perf", text)
    ranks = set(re.findall(r"#\s+Rank\s+\d+\s+Group\s+\d+\s+Pid\s+\d+\s+on\s+(\S+)", text))
    p = Paste("nccl-tests", f"nccl-tests {name[0] if name else '*_perf'}")
    rows = re.findall(r"^\s+(\d+)\s+\d+\s+\w+\s+\w+\s+-?\d+\s+[\d.]+\s+[\d.]+\s+([\d.]+)", text, re.MULTILINE)
    p.facts.update({"test": name[1] if name else None, "nodes": len(ranks) or None})
    if rows:
        size, largest = max((int(s), float(b)) for s, b in rows)
        p.facts.update({"largest_bytes": size, "largest_busbw": largest})
    if avg:
        p.facts["avg_busbw"] = float(avg[1])
    busbw: float | None = p.facts.get("largest_busbw", p.facts.get("avg_busbw"))
    if busbw is None or (name and name[1] != "all_gather"):
        if busbw is not None:
            p.add("info", "nccl-allgather-busbw", f"{name[0] if name else 'test'}: bus bandwidth {busbw} GB/s "
                  "(thresholds are known for all_gather)")
        return p
    ring = len(ranks) > 2
    entry = fabric("nccl-allgather-busbw-ring" if ring else "nccl-allgather-busbw")
    single = fabric("nccl-single-port")["healthy"]
    if busbw >= float(entry["pass_at_least"]):
        p.add("ok", entry["name"], f"all_gather bus bandwidth {busbw} GB/s (at least {entry['pass_at_least']})")
    elif float(single[0]) <= busbw <= float(single[1]):
        p.add("fail", "nccl-single-port", f"all_gather bus bandwidth {busbw} GB/s: NCCL used one port or sockets",
              fabric("nccl-single-port")["fix"])
    else:
        p.add("fail", entry["name"], f"all_gather bus bandwidth {busbw} GB/s, under {entry['pass_at_least']}",
              entry["fix"])
    return p


def nccl_init(text: str) -> Paste | None:
    if "NCCL INFO" not in text:
        return None
    p = Paste("nccl", "NCCL_DEBUG=INFO init lines")
    version = re.search(r"NCCL version (\S+)", text)
    net = re.findall(r"NCCL INFO Using network (\w+)", text)
    using = re.search(r"NET/IB ?: Using (.*?)(?:;|$)", text, re.MULTILINE)
    gid = re.search(r"NCCL_IB_GID_INDEX set by environment to (\d+)", text)
    p.facts.update({"nccl_version": version[1] if version else None, "network": sorted(set(net)),
                    "ib_devices": re.findall(r"\[\d+\](\S+?):\d+/RoCE", using[1]) if using else [],
                    "gid_index": int(gid[1]) if gid else None})
    if not net and not using:
        return p if version else None
    if "Socket" in net and "IB" not in net:
        p.add("fail", "nccl-single-port", "NCCL chose sockets, not RoCE (no usable RDMA device)",
              "Give the container the RDMA devices (--device /dev/infiniband or --privileged, --network host), "
              "set NCCL_IB_HCA to the QSFP RoCE devices, then check them with `sparkpilot doctor`.")
    elif len(p.facts["ib_devices"]) == 1:
        p.add("warn", "nccl-single-port", f"NCCL uses one RoCE device ({p.facts['ib_devices'][0]}): half the cable",
              fabric("nccl-single-port")["fix"])
    elif p.facts["ib_devices"]:
        p.add("ok", "nccl-single-port", f"NCCL uses {len(p.facts['ib_devices'])} RoCE devices: "
              + ", ".join(p.facts["ib_devices"]))
    return p
