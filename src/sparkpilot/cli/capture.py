"""sparkpilot capture: record every probe's output on a Spark, as a replay recording and fixtures.

    sparkpilot capture --host user@spark --mask --out spark-capture
writes spark-capture/recording.json and spark-capture/<node>/<probe-id>.json (the format of
sparkpilot/replays/, so `doctor --host replay:///abs/spark-capture` replays it from where it is, and of
tests/data/probes/ cases). --mask replaces host names, IP and MAC addresses, serial numbers and
GUIDs with stable placeholders, so owners can contribute real hosts.
"""

from __future__ import annotations

import argparse
import shlex
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sparkpilot.cli.common import add_format, print_json
from sparkpilot.errors import EXIT_FINDINGS, EXIT_OK, UsageError


EXAMPLES = """\
  sparkpilot capture --mask --out my-spark        record this machine, names and addresses masked
  sparkpilot capture --host user@spark-1 --host user@spark-2 --mask
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", action="append", metavar="HOST",
                        help="local (default) or user@host[:port]; repeat for several nodes")
    parser.add_argument("--inventory", metavar="FILE", help="YAML inventory of the nodes")
    parser.add_argument("--image", help="also record the CUDA version of this container image")
    parser.add_argument("--out", default="sparkpilot-capture", metavar="DIR",
                        help="folder to write (default: sparkpilot-capture)")
    parser.add_argument("--mask", action="store_true",
                        help="replace host names, addresses, MACs, serials and GUIDs with placeholders")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds per command (default 10)")
    add_format(parser)


class Masker:
    """Stable replacements: the same value always becomes the same placeholder."""

    IPV4 = re.compile(r"\b(?!127\.0\.0\.1\b)(?:\d{1,3}\.){3}\d{1,3}\b")
    MAC = re.compile(r"\b(?!00:00:00:00:00:00\b)(?!ff:ff:ff:ff:ff:ff\b)(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}\b")
    GUID = re.compile(r"(?<![0-9a-fA-F:])[0-9a-f]{4}:[0-9a-f]{4}:[0-9a-f]{4}:[0-9a-f]{4}(?![0-9a-fA-F:])")
    GID = re.compile(r"\b((?:[0-9a-f]{4}:){4})([0-9a-f]{4}):([0-9a-f]{4}):([0-9a-f]{4}):([0-9a-f]{4})\b")
    GPU_UUID = re.compile(r"\bGPU-[0-9a-f-]{36}\b")
    SERIAL = re.compile(r"^(\s*(?:Vendor SN|Serial Number|DGX_SERIAL_NUMBER)\s*[:=]\s*)(\S.*)$", re.M)

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], str] = {}
        self.count: dict[str, int] = {}
        self.names: list[str] = []

    def _sub(self, kind: str, value: str) -> str:
        key = ("ip" if kind == "iid" else kind, value)
        if key not in self.seen:
            counter = "ip" if kind == "iid" else kind   # interface ids share the ip counter: no clashes
            self.count[counter] = self.count.get(counter, 0) + 1
            self.seen[key] = self._placeholder(counter, self.count[counter])
        return self.seen[key]

    @staticmethod
    def _placeholder(kind: str, n: int) -> str:
        if kind == "ip":
            return f"10.0.{n // 250}.{n % 250 + 1}"      # still an address, so parsers keep working
        if kind == "mac":
            return f"02:00:00:00:{n // 256:02x}:{n % 256:02x}"
        return f"<{kind}-{n}>"

    def text(self, s: str) -> str:
        for name in sorted(self.names, key=len, reverse=True):
            if name and name not in ("localhost", "local"):
                s = s.replace(name, self._sub("host", name))
        s = self.SERIAL.sub(lambda m: m.group(1) + self._sub("serial", m.group(2).strip()), s)
        s = self.GPU_UUID.sub(lambda m: self._sub("gpu-uuid", m.group(0)), s)
        s = self.GID.sub(self._gid, s)
        s = self.MAC.sub(lambda m: self._sub("mac", m.group(0).lower()), s)
        s = self.IPV4.sub(lambda m: self._sub("ip", m.group(0)) if _is_ip(m.group(0)) else m.group(0), s)
        s = self.GUID.sub(lambda m: self._sub("guid", m.group(0)), s)
        return s


    def _gid(self, m: re.Match) -> str:
        """RoCE GIDs: an IPv4-mapped one keeps its form with the masked address; a link-local one
        (interface id from the MAC) gets a stable made-up interface id."""
        prefix, a, b, c, d = m.groups()
        if prefix == "0000:0000:0000:0000:" and a == "0000" and b == "ffff":
            ip = ".".join(str(int(x, 16)) for x in (c[:2], c[2:], d[:2], d[2:]))
            masked = [int(x) for x in self._sub("ip", ip).split(".")]
            return f"{prefix}0000:ffff:{masked[0]:02x}{masked[1]:02x}:{masked[2]:02x}{masked[3]:02x}"
        if prefix == "fe80:0000:0000:0000:":
            n = int(self._sub("iid", f"{a}{b}{c}{d}").split(".")[-1])
            return f"{prefix}0200:00ff:fe00:{n:04x}"
        return m.group(0)


def _is_ip(s: str) -> bool:
    return all(0 <= int(p) <= 255 for p in s.split("."))


def run(args: argparse.Namespace) -> int:
    from sparkpilot import inventory
    from sparkpilot.facts import collect

    if args.inventory and args.host:
        raise UsageError("give --inventory or --host, not both")
    if not 0 < args.timeout < float("inf"):
        raise UsageError("--timeout must be a positive number of seconds")
    if any(h.strip().startswith("replay://") for h in args.host or []):
        raise UsageError("capture records live hosts; replay:// hosts are recordings already")
    inv = inventory.load(args.inventory) if args.inventory else inventory.from_hosts(args.host)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    cluster = collect(inv, timeout=args.timeout, image=args.image or inv.image, ping=False)
    masker = Masker()
    if args.mask:
        for h in cluster.hosts:
            masker.names += [h.host.split("@")[-1].split(":")[0]]
            hn = h.get("hostname")
            if hn:
                masker.names.append(hn.name)
    nodes: list[str] = []
    summary: list[dict[str, Any]] = []
    for i, h in enumerate(cluster.hosts):
        node = f"node-{i + 1}" if args.mask else _safe(h.name or h.host)
        nodes.append(node)
        written = 0
        if h.reachable:
            (out / node).mkdir(parents=True, exist_ok=True)
            for pid, res in sorted(h.results.items()):
                if res.rc is None and res.na is not None and not res.stdout:
                    continue   # could not run at all: nothing to record
                rec = _record(pid, res, h, args.mask, masker)
                (out / node / f"{pid}.json").write_text(json.dumps(rec, indent=1, ensure_ascii=False) + "\n",
                                                        encoding="utf-8")
                written += 1
        summary.append({"host": masker.text(h.host) if args.mask else h.host, "node": node,
                        "reachable": h.reachable, "reason": h.reason, "probes": written})
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"name": out.name, "description": f"captured by sparkpilot capture on "
                f"{datetime.now(timezone.utc).strftime('%Y-%m-%d')}" + (" (masked)" if args.mask else ""),
                "nodes": [n for n, s in zip(nodes, summary, strict=False) if s["reachable"]]}
    (out / "recording.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    if args.format == "json":
        print_json({"out": str(out), "hosts": summary})
    else:
        for s in summary:
            state = f"{s['probes']} probe outputs" if s["reachable"] else f"NOT REACHABLE: {s['reason']}"
            print(f"{s['host']}: {state} -> {out / s['node']}")
        where = shlex.quote(f"replay://{out.expanduser().absolute()}")
        print(f"wrote {out}/; check it offline from anywhere: sparkpilot doctor --host {where} "
              f"(or sparkpilot plan MODEL --host {where})", file=sys.stdout)
    return EXIT_OK if all(s["reachable"] for s in summary) else EXIT_FINDINGS


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "node"


def _record(pid: str, res: Any, h: Any, mask: bool, masker: Masker) -> dict[str, Any]:
    m = masker.text if mask else (lambda s: s)
    argv = [m(a) for a in res.argv] if pid in ("image-cuda",) else list(res.argv)
    return {"probe": pid, "argv": argv, "stdout": m(res.stdout), "stderr": m(res.stderr), "rc": res.rc,
            "source": {"captured_by": "sparkpilot capture", "host": m(h.host),
                       "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "masked": mask},
            **({"unknown": res.na.reason} if res.na else {})}
