"""The sampler's line stream over a runner kept open: the Runner's own `stream(argv)`
(transport/base.py LineStream: local process, or ssh over the shared connection), wrapped with
the three calls the collector uses. A recorded (replay://) host has no live samples: UsageError.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sparkpilot.errors import UsageError
from sparkpilot.transport.base import Runner


class Stream:
    def __init__(self, inner: Any):
        self.inner = inner
        self._tail: list[str] = []

    def lines(self) -> Iterator[str]:
        for line in self.inner:
            if not line.startswith("##sparkpilot "):
                self._tail = (self._tail + [line])[-3:]
            yield line

    def reason(self) -> str:
        rc = getattr(self.inner, "rc", None)
        last = next((ln.strip() for ln in reversed(self._tail) if ln.strip()), "")
        text = last if last.startswith(("ssh", "sh:", "Connection", "kex", "Host key")) or rc == 255 else ""
        if text:
            return f"{text} (exit {rc})" if rc is not None else text
        return f"the sampler ended (exit {rc})" if rc is not None else ""

    def close(self) -> None:
        self.inner.stop()


def open_stream(runner: Runner, argv: Sequence[str]) -> Stream:
    if runner.recorded:
        raise UsageError(f"{runner.name}: a recorded host has no live samples to watch; "
                         "give a real host (local, user@host) or an inventory")
    return Stream(runner.stream(list(argv)))
