"""The transport layer: one way to run a command on a host, whatever the host is.

Every runner (local, ssh, replay) implements `Runner.run(argv, timeout) -> CommandResult`.
A host that does not answer raises `sparkpilot.errors.TransportError` (ssh exit 255, timeout,
refused, auth failure); a command that ran and failed is a CommandResult with rc != 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


@dataclass(frozen=True)
class CommandResult:
    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.rc == 0


class Runner(Protocol):
    """Runs commands on one host."""

    name: str  # how the host is shown to the user, e.g. "local", "user@spark-1", "replay://pair-a"

    def run(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult: ...

    def close(self) -> None: ...
