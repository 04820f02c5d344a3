"""Parsers for the fabric tools `sparkpilot net` runs (pure; diagnose reads pastes with them too).

  ethtool PORT              "Speed: 200000Mb/s", "Link detected: yes"
  ib_write_bw (perftest)    "Number of qps : 4", "Device : rocep1s0f1", rows "#bytes #iterations
                            BW peak[Gb/sec] BW average[Gb/sec] MsgRate[Mpps]"
  all_gather_perf           nccl-tests rows "size count type redop root time algbw busbw #wrong
                            time algbw busbw #wrong" and "# Avg bus bandwidth : X"
  ip -j neigh               JSON list of {dst, dev, lladdr, state}
  nmcli -t                  colon-separated fields, ':' and '\\' escaped with '\\'
Each raises ValueError on text that is not the tool's output (a foreign paste is refused).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field


@dataclass
class LinkSpeed:
    port: str | None
    mbps: int | None          # None: "Unknown!" (no link)
    link_detected: bool | None


def parse_ethtool(text: str) -> LinkSpeed:
    port = re.search(r"^Settings for (\S+?):", text, re.M)
    speed = re.search(r"^\s*Speed:\s*(\S+)", text, re.M)
    detected = re.search(r"^\s*Link detected:\s*(yes|no)", text, re.M)
    if not speed and not detected:
        raise ValueError("no 'Speed:' or 'Link detected:' line (not `ethtool PORT` output)")
    mbps = None
    if speed:
        m = re.match(r"(\d+)Mb/s", speed.group(1))
        mbps = int(m.group(1)) if m else None
    return LinkSpeed(port.group(1) if port else None, mbps,
                     None if not detected else detected.group(1) == "yes")


@dataclass
class BwRow:
    size: int
    iterations: int
    peak_gbps: float
    avg_gbps: float


@dataclass
class WriteBw:
    device: str | None
    qps: int | None
    rows: list[BwRow] = field(default_factory=list)

    @property
    def avg_gbps(self) -> float | None:
        """The largest message size's average (the figure a run reports)."""
        return max(self.rows, key=lambda r: r.size).avg_gbps if self.rows else None


def parse_ib_write_bw(text: str) -> WriteBw:
    if "#bytes" not in text or "BW average" not in text:
        raise ValueError("no ib_write_bw result table (#bytes ... BW average[Gb/sec])")
    dev = re.search(r"Device\s*:\s*(\S+)", text)
    qps = re.search(r"Number of qps\s*:\s*(\d+)", text)
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].isdigit() and parts[1].isdigit():
            try:
                rows.append(BwRow(int(parts[0]), int(parts[1]), float(parts[2]), float(parts[3])))
            except ValueError:
                continue
    if not rows:
        raise ValueError("ib_write_bw printed its table header but no result row")
    return WriteBw(dev.group(1) if dev else None, int(qps.group(1)) if qps else None, rows)


@dataclass
class NcclRow:
    size: int
    oop_busbw: float
    ip_busbw: float | None


@dataclass
class NcclTest:
    collective: str | None
    ranks: int
    rows: list[NcclRow] = field(default_factory=list)
    avg_busbw: float | None = None
    wrong: int = 0

    @property
    def peak_busbw(self) -> float | None:
        """Bus bandwidth at the largest size (out-of-place or in-place, the higher)."""
        if not self.rows:
            return None
        top = max(self.rows, key=lambda r: r.size)
        return max(top.oop_busbw, top.ip_busbw or 0.0)


def parse_nccl_tests(text: str) -> NcclTest:
    if "nccl-tests" not in text and "Avg bus bandwidth" not in text and "busbw" not in text:
        raise ValueError("not nccl-tests output (no busbw table)")
    coll = re.search(r"Collective test starting:\s*(\S+)", text)
    ranks = len(re.findall(r"^#\s+Rank\s+\d+", text, re.M))
    rows, wrong = [], 0
    for line in text.splitlines():
        parts = line.split()
        if line.lstrip().startswith("#") or len(parts) < 9 or not parts[0].isdigit():
            continue
        try:   # size count type redop root | time algbw busbw #wrong | time algbw busbw #wrong
            oop = float(parts[7])
            ip = float(parts[11]) if len(parts) >= 12 else None
            wrong += sum(int(p) for p in (parts[8], parts[12] if len(parts) >= 13 else "0") if p.isdigit())
        except ValueError:
            continue
        rows.append(NcclRow(int(parts[0]), oop, ip))
    avg = re.search(r"Avg bus bandwidth\s*:\s*([\d.]+)", text)
    if not rows and not avg:
        raise ValueError("nccl-tests printed no result row")
    return NcclTest(coll.group(1) if coll else None, ranks, rows, float(avg.group(1)) if avg else None, wrong)


@dataclass
class Neighbour:
    address: str
    dev: str | None
    mac: str | None
    state: list[str] = field(default_factory=list)


def parse_ip_neigh(text: str) -> list[Neighbour]:
    data = json.loads(text.strip() or "[]")
    if not isinstance(data, list):
        raise ValueError("not a JSON list (`ip -j neigh`)")
    return [Neighbour(n.get("dst", ""), n.get("dev"), n.get("lladdr"), list(n.get("state") or []))
            for n in data if isinstance(n, dict)]


def split_terse(line: str) -> list[str]:
    """One line of `nmcli -t`: fields split at unescaped ':'; '\\:' and '\\\\' unescaped."""
    out, cur, esc = [], [], False
    for ch in line:
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == ":":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out
