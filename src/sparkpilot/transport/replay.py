"""Recorded hosts: `replay://NAME` answers each probe with a real output recorded on a Spark.

Recordings ship in sparkpilot/replays/<recording>/:
    recording.json          {"name", "description", "nodes": [NODE, ...]}
    <node>/<probe-id>.json  {"probe", "argv", "stdout", "stderr", "rc", "source", "reconstructed"?}
`replay://single` is a one-node recording; `replay://pair/spark-a` is one node of a recording;
`replay://pair` given to doctor stands for all its nodes (inventory.from_hosts expands it).
A recording anywhere else (what `sparkpilot capture --out DIR` writes) is named by its path:
`replay:///abs/DIR`, `replay://./DIR`, `replay://~/DIR` (a NODE may follow: `replay:///abs/DIR/node-1`),
or `replay://DIR` when DIR is a folder here and no shipped recording has that name.
A command the recording does not have answers rc 127 with NOT_RECORDED on stderr, which the
facts layer reports as unknown ("not in the recording").
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sparkpilot.errors import UsageError
from sparkpilot.errors import TransportError
from sparkpilot.transport.base import CommandResult, Runner

if TYPE_CHECKING:
    from sparkpilot.transport.detached import Detached

REPLAYS = Path(__file__).resolve().parent.parent / "replays"
NOT_RECORDED = "sparkpilot replay: no recording of this command"


MANIFEST = "recording.json"


def _manifest(name: str, root: Path = REPLAYS) -> dict[str, Any]:
    path = root / name / MANIFEST
    if not path.is_file():
        known = ", ".join(r["name"] for r in list_replays(root)) or "none"
        raise UsageError(f"no recorded host `replay://{name}` (recorded: {known}; a capture elsewhere: "
                         "replay:///path/to/it)")
    return _read_manifest(path)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: not a readable recording ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes", []), list):
        raise UsageError(f"{path}: not a recording (expected {{\"name\", \"nodes\": [...]}})")
    return data


def locate(name: str, root: Path = REPLAYS) -> tuple[Path, str, str]:
    """(recording folder, its replay:// base, node or "") for what follows `replay://`: a shipped
    recording's NAME[/NODE], or the path of a capture (/abs, ./rel, ~/x, or a folder here)."""
    name = name.rstrip("/") or "/"
    shipped = (root / name.strip("/").partition("/")[0] / MANIFEST).is_file()
    here = Path(name)
    is_path = name.startswith(("/", "./", "../", "~")) or (
        not shipped and ((here / MANIFEST).is_file() or (here.parent / MANIFEST).is_file()))
    if not is_path:
        rec, _, node = name.strip("/").partition("/")
        _manifest(rec, root)
        return root / rec, rec, node
    path = Path(name).expanduser().absolute()
    if (path / MANIFEST).is_file():
        return path, str(path), ""
    if (path.parent / MANIFEST).is_file() and path.parent != path:
        return path.parent, str(path.parent), path.name
    hint = "it is a folder without recording.json" if path.is_dir() else "no such folder"
    raise UsageError(f"no recording at `{name}` ({hint}): make one with `sparkpilot capture --out {name}`")


def list_replays(root: Path = REPLAYS) -> list[dict[str, Any]]:
    out = []
    if root.is_dir():
        for d in sorted(root.iterdir()):
            m = d / "recording.json"
            if m.is_file():
                data = json.loads(m.read_text(encoding="utf-8"))
                out.append({"name": data.get("name", d.name), "description": data.get("description", ""),
                            "nodes": list(data.get("nodes", [])),
                            "hosts": [f"replay://{d.name}/{n}" for n in data.get("nodes", [])]})
    return out


def expand(spec: str, root: Path = REPLAYS) -> list[str]:
    """replay://pair -> [replay://pair/spark-a, replay://pair/spark-b]; a node spec stays as it is."""
    name = spec[len("replay://"):]
    if not name.strip("/"):
        raise UsageError(f"bad host `{spec}`: give a recording name, e.g. replay://single")
    folder, rec, node = locate(name, root)
    nodes = [str(n) for n in _read_manifest(folder / MANIFEST).get("nodes", [])]
    if not nodes:
        raise UsageError(f"replay://{rec} records no reachable node")
    if node:
        if node not in nodes:
            raise UsageError(f"replay://{rec} has no node `{node}` (nodes: {', '.join(nodes)})")
        return [f"replay://{rec}/{node}" if len(nodes) > 1 else f"replay://{rec}"]
    if len(nodes) == 1:
        return [f"replay://{rec}"]
    return [f"replay://{rec}/{n}" for n in nodes]


class ReplayRunner(Runner):
    """A Runner over one recorded node. `recorded = True` tells doctor not to judge live things
    (clock offsets between hosts, ping timing) from it."""

    recorded = True

    def __init__(self, name: str, root: Path = REPLAYS):
        folder, rec, node = locate(name, root)
        nodes = [str(n) for n in _read_manifest(folder / MANIFEST).get("nodes", [])]
        if not node:
            if len(nodes) != 1:
                raise UsageError(f"replay://{rec} records {len(nodes)} nodes: give replay://{rec}/NODE "
                                 f"({', '.join(nodes)})")
            node = nodes[0]
        if node not in nodes:
            raise UsageError(f"replay://{rec} has no node `{node}` (nodes: {', '.join(nodes)})")
        self.name = f"replay://{rec}/{node}" if len(nodes) > 1 else f"replay://{rec}"
        self.dir = folder / node
        self.by_argv: dict[tuple[str, ...], dict[str, Any]] = {}
        self.by_probe: dict[str, dict[str, Any]] = {}
        for f in sorted(self.dir.glob("*.json")):
            try:
                rec_ = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise UsageError(f"{f}: not a readable recorded output ({e})") from None
            if not isinstance(rec_, dict):
                raise UsageError(f"{f}: not a recorded output (expected {{\"probe\", \"argv\", \"stdout\", ...}})")
            self.by_argv[tuple(rec_.get("argv", []))] = rec_
            if rec_.get("probe") and rec_.get("probe") != "ping":
                self.by_probe[rec_["probe"]] = rec_

    def lookup(self, argv: Sequence[str]) -> dict[str, Any] | None:
        key = tuple(argv)
        if key in self.by_argv:
            return self.by_argv[key]
        from sparkpilot.probes import PROBES

        for pid, probe in PROBES.items():   # a recording made before a probe's script changed
            if probe.argv == key:
                return self.by_probe.get(pid)
        if key[:1] == ("ping",):   # a ping recorded with other options answers for its address
            return next((r for r in self.by_argv.values()
                         if r.get("probe") == "ping" and tuple(r.get("argv", []))[-1:] == key[-1:]), None)
        if key[:2] == ("docker", "image") and "image-cuda" in self.by_probe:
            rec = self.by_probe["image-cuda"]
            return rec if tuple(rec.get("argv", []))[-1:] == key[-1:] else None
        return None

    def run(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        rec = self.lookup(argv)
        if rec is None:
            return CommandResult(127, "", NOT_RECORDED + "\n", 0.0)
        return CommandResult(int(rec.get("rc", 0)), rec.get("stdout", ""), rec.get("stderr", ""), 0.0)

    def write_bytes(self, remote: str, data: bytes, mode: int | None = None) -> None:
        raise TransportError(f"{self.name}: a recorded host cannot be changed")

    def start_detached(self, argv: Sequence[str], unit_name: str) -> Detached:
        raise TransportError(f"{self.name}: a recorded host cannot start anything")
