"""A line stream from a command on a host, kept open: the runner's own `stream(argv)` when it
has one, else the same ssh (shared ControlMaster) or local process the runner would use.

open_stream(runner, argv) -> Stream with lines() (an iterator that ends when the command does)
and close() (ends the command: the remote loop dies on its next write).
"""

from __future__ import annotations

import shlex
import subprocess
import threading
from typing import Any, Iterator, Sequence

from sparkpilot.errors import UsageError


class Stream:
    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self._err: list[str] = []
        self._t = threading.Thread(target=self._drain, daemon=True)
        self._t.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._err = (self._err + [line.strip()])[-5:]

    def lines(self) -> Iterator[str]:
        assert self.proc.stdout is not None
        yield from self.proc.stdout

    def reason(self) -> str:
        rc = self.proc.poll()
        last = next((e for e in reversed(self._err) if e), "")
        return f"{last} (exit {rc})" if last else (f"exit {rc}" if rc is not None else "")

    def close(self) -> None:
        from sparkpilot.transport.local import kill_group

        if self.proc.poll() is None:
            kill_group(self.proc)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass


class _Adapter:
    """Wraps a runner's own stream object (h9's Runner.stream) to the same three methods."""

    def __init__(self, inner: Any):
        self.inner = inner

    def lines(self) -> Iterator[str]:
        yield from self.inner

    def reason(self) -> str:
        return str(getattr(self.inner, "reason", "") or "")

    def close(self) -> None:
        for name in ("close", "stop"):
            fn = getattr(self.inner, name, None)
            if callable(fn):
                fn()
                return


def _popen(argv: Sequence[str]) -> subprocess.Popen:
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1, start_new_session=True,
                            errors="replace")


def open_stream(runner: Any, argv: Sequence[str]):
    from sparkpilot.transport.local import LocalRunner
    from sparkpilot.transport.ssh import SshRunner

    if isinstance(runner, SshRunner):
        return Stream(_popen(runner.ssh_argv("-T", command=shlex.join(argv))))
    if isinstance(runner, LocalRunner):
        return Stream(_popen(argv))
    own = getattr(runner, "stream", None)
    if callable(own):
        return _Adapter(own(list(argv)))
    raise UsageError(f"{getattr(runner, 'name', runner)}: a recorded host has no live samples to watch; "
                     "give a real host (local, user@host) or an inventory")
