"""What `up` (and down / supervisor) report as they go: one Event per step, never printed here.

The launcher core yields these; the CLI renders them as progress (ui/progress.py), plain lines,
or `--format json` (one object a line: `Event.to_dict()`, documented in the README).

kinds:
  step       a stage begins: plan, preflight, sync, launch, progress, smoke, teardown
  check      a pre-flight result (status pass|warn|fail|unknown, id, fix)
  command    a command run on a node (with dry_run: what would run)
  sync       model / image transfer on a node (what, how, bytes, total)
  container  a container started on a node
  phase      a node (or the start as a whole) entered a CONTRACTS phase; eta_s from the plan
  progress   weight loading progress (shards done / total, GiB)
  stall      a phase past its expected time (probable hang, likely causes)
  hang       a phase past --hang-timeout: the launch fails
  failure    the diagnosis: class, line, message, fix, node
  teardown   containers removed on a node
  ready      /health and /v1/models answer: endpoint, seconds
  smoke      the smoke chat's answer and verdict (ok | garbage)
  supervisor a supervisor started / restarted the deployment
  done       the end: outcome ready | failed | incomplete, exit code
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    kind: str
    message: str = ""
    node: str | None = None
    phase: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.kind, "time": round(self.time, 3), "message": self.message}
        if self.node is not None:
            out["node"] = self.node
        if self.phase is not None:
            out["phase"] = self.phase
        out.update(self.data)
        return out


class LaunchFailed(Exception):
    """A launch that failed (diagnosed, refused by pre-flight, or judged garbage)."""

    def __init__(self, message: str, failure: Any = None, exit_code: int = 1):
        super().__init__(message)
        self.failure = failure
        self.exit_code = exit_code
