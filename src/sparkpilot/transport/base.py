"""The Runner interface: everything sparkpilot does on a host goes through one of these.

    class Runner:                                   # local.py, ssh.py, replay.py implement it
        name: str                                   # "local", "user@spark-1", "replay://pair/spark-a"
        recorded: bool                              # True: outputs are recordings, not live
        run(argv, timeout) -> CommandResult         # run and wait (the one abstract method)
        run_many(argvs, timeout) -> [CommandResult] # several at once (default: threads over run)
        stream(argv) -> LineStream                  # `with` it; iterate lines; .stop(); .rc
        put(local, remote, mode) / get(remote, local)
        start_detached(argv, unit) -> Detached      # outlives this session: .running(), .stop()
        expect_single_command()                     # a hint: the next command is the only one
        close() / begin_close() -> finish           # close_all(runners) closes side by side

A host that does not answer raises `sparkpilot.errors.TransportError` (ssh exit 255, timeout,
refused, auth failure); a command that ran and failed is a CommandResult with rc != 0.
`start_detached` uses `systemd-run` where the host runs systemd and we are root there, otherwise
`setsid nohup` with a pid file under ~/.cache/sparkpilot/detached (transport/detached.py).
"""

from __future__ import annotations

import shlex
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sparkpilot.transport.detached import Detached


@dataclass(frozen=True)
class CommandResult:
    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.rc == 0


class LineStream(ABC):
    """A command's output, line by line, as it comes (stdout and stderr merged).

    Use it in `with`: leaving the block stops the command. `stop()` may be called from another
    thread; iteration then ends. `rc` is the exit code once the command ended (None before, or
    when it was stopped)."""

    rc: int | None = None

    @abstractmethod
    def __iter__(self) -> Iterator[str]: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> LineStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class Runner(ABC):
    """Runs commands on one host. Subclasses implement `run` (and `close` when they hold a
    connection); the rest has a default built on `run` that a subclass may do better."""

    name: str = "?"
    recorded: bool = False

    @abstractmethod
    def run(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult: ...

    def run_many(self, argvs: Sequence[Sequence[str]], timeout: float = 10.0,
                 workers: int = 8) -> list[CommandResult]:
        """Every argv, side by side, results in order. Default: `run` in threads."""
        todo = [list(a) for a in argvs]
        if len(todo) <= 1:
            return [self.run(a, timeout=timeout) for a in todo]
        with ThreadPoolExecutor(max_workers=min(workers, len(todo))) as pool:
            return list(pool.map(lambda a: self.run(a, timeout=timeout), todo))

    def stream(self, argv: Sequence[str]) -> LineStream:
        """The command's output as it comes. Default: run it to the end, then give its lines."""
        res = self.run(argv, timeout=60.0)
        return ListStream((res.stdout + res.stderr).splitlines(), res.rc)

    def put(self, local: str | Path, remote: str, mode: int | None = None) -> None:
        """Copy a local file to the host (written whole, then renamed into place)."""
        path = Path(local)
        self.write_bytes(remote, path.read_bytes(), mode if mode is not None else path.stat().st_mode & 0o777)

    def get(self, remote: str, local: str | Path) -> None:
        """Copy a file from the host; TransportError when it cannot be read."""
        Path(local).write_bytes(self.read_bytes(remote))

    def write_bytes(self, remote: str, data: bytes, mode: int | None = None) -> None:
        from sparkpilot.errors import TransportError

        raise TransportError(f"{self.name}: this host cannot receive files")

    def read_bytes(self, remote: str) -> bytes:
        from sparkpilot.errors import TransportError

        res = self.run(["cat", "--", remote], timeout=60.0)
        if res.rc != 0:
            raise TransportError(f"{self.name}: cannot read {remote}: "
                                 f"{(res.stderr.strip().splitlines() or ['exit %d' % res.rc])[0]}")
        return res.stdout.encode("utf-8", "surrogateescape")

    def start_detached(self, argv: Sequence[str], unit_name: str) -> Detached:
        """Start argv so that it outlives this session (and this runner); see transport/detached.py."""
        from sparkpilot.transport.detached import start

        return start(self, argv, unit_name)

    def expect_single_command(self) -> None:  # noqa: B027 - an optional hint, a no-op by default
        """A hint: the caller will send this runner one command only (a runner may then skip
        setting up a shared connection). Default: nothing."""

    def begin_close(self) -> Callable[[], None]:
        """Start closing; return what finishes it (close_all closes many side by side)."""
        self.close()
        return lambda: None

    def close(self) -> None:  # noqa: B027 - a runner without a connection has nothing to close
        """Release the connection; further commands may fail."""

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ListStream(LineStream):
    """A stream over lines already known (a recording, or a runner that cannot stream)."""

    def __init__(self, lines: list[str], rc: int | None):
        self._lines, self._final, self._stopped = lines, rc, False

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            if self._stopped:
                return
            yield line
        self.rc = self._final

    def stop(self) -> None:
        self._stopped = True


def close_all(runners: Sequence[Runner]) -> None:
    """Close many runners at once: each starts closing, then each is waited for."""
    finishes = [r.begin_close() for r in runners]
    for finish in finishes:
        finish()


def quote(argv: Sequence[str]) -> str:
    return shlex.join([str(a) for a in argv])
