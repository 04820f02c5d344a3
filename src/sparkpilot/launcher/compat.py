"""Bridges to the transport until every runner has `stream` and `start_detached` (transport/base.py).

Once the Runner base class is on main these defer to it; the fallbacks run the same commands
(a local process, or the runner's own ssh command line) and are used only by runners without them.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections.abc import Iterator, Sequence
from typing import Any


class ProcessStream:
    """Lines of a process (stdout and stderr merged); stop() ends it and everything it started."""

    def __init__(self, argv: Sequence[str]):
        self.rc: int | None = None
        self._proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        self._stopped = threading.Event()

    def __iter__(self) -> Iterator[str]:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            if self._stopped.is_set():
                break
            yield raw.decode("utf-8", "replace")
        self._proc.wait()
        if not self._stopped.is_set():
            self.rc = self._proc.returncode

    def stop(self) -> None:
        self._stopped.set()
        if self._proc.poll() is None:
            import signal

            try:
                os.killpg(self._proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self._proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self._proc.kill()

    def __enter__(self) -> ProcessStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def command_argv(runner: Any, argv: Sequence[str]) -> list[str]:
    """The local argv that runs `argv` on the runner's host (ssh for SshRunner)."""
    argv = [str(a) for a in argv]
    if hasattr(runner, "ssh_argv"):
        try:
            runner.connect()
        except AttributeError:
            pass
        return list(runner.ssh_argv("-T", command=shlex.join(argv)))
    return argv


def stream(runner: Any, argv: Sequence[str]) -> Any:
    base = _base_stream(runner)
    if base is not None:
        return base(argv)
    return ProcessStream(command_argv(runner, argv))


def _base_stream(runner: Any):
    """The runner's own stream when it streams for real (not the run-then-list default)."""
    method = getattr(type(runner), "stream", None)
    if method is None:
        return None
    try:
        from sparkpilot.transport.base import Runner
    except ImportError:  # pragma: no cover
        return None
    default = getattr(Runner, "stream", None)
    if method is default:
        return None
    return runner.stream
