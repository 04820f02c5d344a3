"""The flight recorder: every sample as one JSON line, appended and synced, so what was written
survives a SIGKILL or a power-off; rotated into segments and bounded in total size.

    DIR/samples-YYYYMMDDTHHMMSS-NNNN.jsonl    one segment; a new one per run and every SEGMENT bytes

Each write is one `write(2)` of a whole line to a file opened O_APPEND, then fsync (and the
directory is synced when a segment is created), so after a crash at most the line being written
is torn: `read()` skips a line that does not parse. The oldest segments are deleted when the
directory holds more than `max_bytes`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PREFIX = "samples-"
SEGMENT_BYTES = 16 * 1024 * 1024
MAX_BYTES = 256 * 1024 * 1024


class Recorder:
    def __init__(self, directory: str | Path, *, segment_bytes: int = SEGMENT_BYTES, max_bytes: int = MAX_BYTES,
                 sync: bool = True):
        self.dir = Path(directory)
        self.segment_bytes = segment_bytes
        self.max_bytes = max(max_bytes, segment_bytes)
        self.sync = sync
        self._fd: int | None = None
        self._size = 0
        self._seq = 0
        self.dir.mkdir(parents=True, exist_ok=True)
        self._stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())

    def _open_segment(self) -> None:
        self.close()
        while True:
            path = self.dir / f"{PREFIX}{self._stamp}-{self._seq:04d}.jsonl"
            self._seq += 1
            try:
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                continue
        self._size = 0
        if self.sync:
            dfd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self._prune()

    def _prune(self) -> None:
        segs = segments(self.dir)
        total = sum(p.stat().st_size for p in segs)
        for p in segs[:-1]:          # never the one being written
            if total <= self.max_bytes:
                break
            total -= p.stat().st_size
            p.unlink(missing_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()
        if self._fd is None or self._size + len(data) > self.segment_bytes:
            self._open_segment()
        assert self._fd is not None
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self._size += len(data)
        if self.sync:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def segments(directory: str | Path) -> list[Path]:
    return sorted(Path(directory).glob(f"{PREFIX}*.jsonl"))


def read(directory: str | Path, stats: dict[str, int] | None = None) -> Iterator[dict[str, Any]]:
    """Every record in order; a torn line (the one being written at a crash) is skipped and counted
    in stats['torn']."""
    for path in segments(directory):
        with open(path, "rb") as f:
            for raw in f:
                try:
                    rec = json.loads(raw)
                except ValueError:
                    if stats is not None:
                        stats["torn"] = stats.get("torn", 0) + 1
                    continue
                if isinstance(rec, dict):
                    yield rec


def read_node_frames(directory: str | Path, history_s: float = 3600.0) -> Iterator[dict[str, Any]]:
    """Records from the nodes' own recordings (`--record-on-nodes`): DIR/NODE/frames-*.log copied
    from each node (or DIR/frames-*.log for one), replayed through the same parsing and thresholds
    as a live watch. A frame cut by a crash is not complete and is skipped."""
    import collections

    from sparkpilot.monitor import sample, sampler, thresholds

    base = Path(directory)
    groups: dict[str, list[Path]] = {}
    for path in sorted(base.glob("frames-*.log")) + sorted(base.glob("*/frames-*.log")):
        node = base.name if path.parent == base else path.parent.name
        groups.setdefault(node, []).append(path)
    for node, paths in sorted(groups.items()):
        hist: collections.deque = collections.deque()
        for path in paths:
            for frame in sampler.split_frames(path.read_text(errors="replace")):
                prev = hist[-1] if hist else None
                ref = next((h for h in hist if h.t >= frame.epoch - sample.QUANTILE_WINDOW_S), None)
                s = sample.build(node, "", frame, prev, ref)
                hist.append(s)
                while hist and hist[0].t < s.t - history_s:
                    hist.popleft()
                rec = s.to_record()
                rec["alerts"] = [{"id": a.id, "name": a.name, "severity": a.severity}
                                 for a in thresholds.evaluate(hist)]
                yield rec
