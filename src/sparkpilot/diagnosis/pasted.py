"""Host-tool output an owner pastes into `sparkpilot diagnose`: say what it is and judge it.

    p = recognise(text)          # None when it is none of the tools below (then it is read as a log)
    p.tool, p.facts, p.findings  # findings: [{"level": ok|info|warn|fail, "check", "message", "fix"}]

Tools: nvidia-smi (table; --query-gpu CSV with or without the `$ command` line), ip link / ip addr
(also -br), ibv_devinfo [-v], show_gids, ibdev2netdev, ib_write_bw / ib_write_lat, nccl-tests
*_perf, ethtool (speed, FEC), dmesg mlx5 link lines, NCCL_DEBUG=INFO init lines, free, nmcli
connection show. Judged with the same knowledge as doctor and net: knowledge/fabric.yaml (link
speed, MTU, RDMA and NCCL bandwidth) and the driver rule of doctor's driver-version check. Where
doctor's probes read the same format, their parsers are used (probes.nvidia_smi, probes.rdma).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sparkpilot.diagnosis.paste import PROMPT_RE, QSFP_RE, Paste, strip_prompt

__all__ = ["PROMPT_RE", "QSFP_RE", "Paste"]


# ----------------------------------------------------------------------------- GPU and driver
def _judge_driver(p: Paste, version: str | None) -> None:
    if not version:
        return
    p.facts["driver_version"] = version
    if version.split(".")[0] == "590":
        from sparkpilot.diagnosis.signatures import by_name

        p.add("fail", "driver-version", f"driver {version} is in the 590 branch, which has the CUDA graph "
              "deadlock on GB10", by_name("cudagraph_hang").fix)
    elif version.split(".")[0] == "580":
        p.add("ok", "driver-version", f"driver {version} (580 branch, the one to stay on)")
    else:
        p.add("warn", "driver-version", f"driver {version} is not the 580 branch the Spark stack is tested on",
              "Install the 580 driver the Spark ships and hold it (sudo apt-mark hold).")


def nvidia_smi_table(text: str) -> Paste | None:
    m = re.search(r"NVIDIA-SMI\s+(\S+)\s+Driver Version:\s*(\S+)(?:\s+CUDA Version:\s*(\S+))?", text)
    if not m:
        return None
    p = Paste("nvidia-smi", "nvidia-smi (table)")
    p.facts.update({"cuda_version": m[3], "gpus": re.findall(r"\|\s+\d+\s+(NVIDIA [\w ]+?)\s{2,}", text)})
    _judge_driver(p, m[2])
    if "Not Supported" in text and "GB10" in text:
        p.add("info", "gb10", "GPU memory shows \"Not Supported\": normal on GB10 (CPU and GPU share the "
              "128 GB; read memory with `free`)")
    _judge_processes(p, text)
    return p


def _judge_processes(p: Paste, text: str) -> None:
    """The table's Processes section, read as doctor's gpu-idle reads it (probes.nvidia_smi)."""
    from sparkpilot.probes.nvidia_smi import parse_processes

    try:
        procs = parse_processes(text)
    except ValueError:
        return
    p.facts["processes"] = [{"pid": q.pid, "type": q.type, "name": q.name} for q in procs.processes]
    if procs.compute:
        p.add("info", "gpu-idle", "compute process(es) on the GPU: " + ", ".join(
            f"{q.name} (pid {q.pid})" for q in procs.compute) + "; `sparkpilot up` refuses to start beside them",
            "stop them first (or `sparkpilot down NAME` for a sparkpilot deployment)")
    else:
        p.add("ok", "gpu-idle", "no compute process on the GPU" + (
            " (graphics only: " + ", ".join(q.name for q in procs.graphics) + ")" if procs.graphics else ""))


def nvidia_smi_csv(text: str) -> Paste | None:
    body = strip_prompt(text)
    first = body.splitlines()[0] if body else ""
    if not re.match(r"^\s*(?:name|driver_version|index|gpu_name)\b[^,\n]*,", first):
        return None
    from sparkpilot.probes.nvidia_smi import parse_query

    try:
        q = parse_query(body)
    except ValueError:
        return None
    p = Paste("nvidia-smi", "nvidia-smi --query-gpu CSV")
    p.facts["gpus"] = [g.name for g in q.gpus]
    _judge_driver(p, q.gpus[0].driver_version)
    if "memory.total" in first and q.gpus[0].memory_total_mib is None and "GB10" in (q.gpus[0].name or ""):
        p.add("info", "gb10", "memory.total is [N/A]: normal on GB10 (CPU and GPU share the 128 GB; read "
              "memory with `free`)")
    return p


# ----------------------------------------------------------------------------- memory, NetworkManager
def free(text: str) -> Paste | None:
    header = re.search(r"^\s*total\s+used\s+free\s+shared\s+buff/cache\s+available", text, re.MULTILINE)
    mem = re.search(r"^Mem:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", text, re.MULTILINE)
    if not header or not mem:
        return None
    p = Paste("free", "free")
    units = {"Ki": 1 / 1024 ** 2, "Mi": 1 / 1024, "Gi": 1.0, "Ti": 1024.0}

    def gib(v: str) -> float | None:
        m = re.match(r"([\d.]+)([KMGT]i)?", v)
        if not m:
            return None
        return float(m[1]) * (units[m[2]] if m[2] else 1 / 1024 ** 2)  # plain `free`: KiB

    total, cache, avail = gib(mem[1]), gib(mem[5]), gib(mem[6])
    p.facts.update({"total_gib": total, "buff_cache_gib": cache, "available_gib": avail})
    if total and cache is not None and cache > 0.1 * total:
        p.add("warn", "page-cache", f"{cache:.0f} GiB of {total:.0f} GiB is page cache: on a Spark it competes with "
              "CUDA at start-up", "sudo sh -c 'sync; echo 3 > /proc/sys/vm/drop_caches' before starting vLLM")
    else:
        p.add("ok", "page-cache", f"page cache {cache} GiB of {total} GiB")
    return p


def nmcli_connections(text: str) -> Paste | None:
    if not re.search(r"^NAME\s+(?:UUID\s+)?TYPE\s+DEVICE", text, re.MULTILINE):
        return None
    p = Paste("nmcli", "nmcli connection show")
    rows = re.findall(r"^(.+?)\s{2,}(?:[0-9a-f-]{36}\s+)?(\S+)\s+(\S+)\s*$", text, re.MULTILINE)
    conns = {name.strip(): {"type": typ, "device": dev} for name, typ, dev in rows if name.strip() != "NAME"}
    p.facts["connections"] = conns
    qsfp = [c for c, v in conns.items() if QSFP_RE.match(v["device"])]
    for c in qsfp:
        p.add("ok", "qsfp-ports", f"connection `{c}` is active on {conns[c]['device']}")
    if not qsfp:
        p.add("warn", "qsfp-ports", "no NetworkManager connection is active on a QSFP port",
              "sparkpilot net plan shows the nmcli connections the QSFP ports need; --apply makes them.")
    else:
        p.add("info", "mtu", "the MTU is not in this listing: nmcli -g 802-3-ethernet.mtu connection show <name>")
    return p


def recognisers() -> list[Callable[[str], Paste | None]]:
    """In the order tried: the most distinctive formats first, NCCL's INFO lines last."""
    from sparkpilot.diagnosis import pasted_net as net

    return [nvidia_smi_table, nvidia_smi_csv, net.ibv_devinfo, net.show_gids, net.ibdev2netdev, net.perftest,
            net.nccl_tests, net.ethtool, free, nmcli_connections, net.ip_link, net.dmesg, net.nccl_init]


def recognise(text: str) -> Paste | None:
    """The first tool whose output this is (None: not a known tool's output)."""
    for fn in recognisers():
        try:
            found = fn(text)
        except (ValueError, KeyError, IndexError):
            found = None
        if found is not None:
            return found
    return None


def render(p: Paste) -> str:
    marks = {"ok": "ok  ", "info": "note", "warn": "WARN", "fail": "FAIL"}
    out = [f"input: {p.what} output"]
    for f in p.findings:
        out.append(f"  {marks.get(f['level'], f['level'])}  {f['check']}: {f['message']}")
        if f["fix"] and f["level"] in ("warn", "fail"):
            out.append(f"        fix: {f['fix']}")
    if not p.findings:
        out.append("  nothing to judge in it")
    from sparkpilot import knowledge

    bad = [f["check"] for f in p.findings if f["level"] in ("warn", "fail")] or [f["check"] for f in p.findings]
    known = [c for c in dict.fromkeys(bad) if knowledge.find(c)]
    if known:
        out.append(f"  more: sparkpilot explain {known[0]}" + "".join(f", {c}" for c in known[1:]))
    return "\n".join(out)
