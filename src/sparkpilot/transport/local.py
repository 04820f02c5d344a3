"""Run commands on this machine.

A local command that does not finish in time is killed (with its children) and comes back as a
CommandResult with rc 124 (as coreutils `timeout` does) and a note on stderr: the host answered,
the command did not. A command that does not exist is rc 127, one that cannot be run rc 126,
as a shell would say.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from sparkpilot.errors import TransportError
from sparkpilot.transport.base import CommandResult, LineStream, Runner

RC_TIMEOUT = 124
RC_CANNOT_RUN = 126
RC_NOT_FOUND = 127


def kill_group(proc: subprocess.Popen) -> None:
    """Kill a process started with start_new_session=True, and everything it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def run_process_bytes(argv: Sequence[str], timeout: float, env: dict[str, str] | None = None,
                      data: bytes | None = None) -> tuple[int | None, bytes, bytes, float]:
    """Run argv (with `data` on its stdin, else none); return (rc or None when it timed out,
    stdout, stderr as bytes, seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL if data is None else subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env,
    )
    try:
        out, err = proc.communicate(input=data, timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        kill_group(proc)
        try:
            out, err = proc.communicate(timeout=0.5)
        except subprocess.TimeoutExpired:  # someone else holds the pipes (e.g. an ssh master)
            proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe:
                    pipe.close()
            out, err = b"", b""
        rc = None
    except BaseException:
        kill_group(proc)
        proc.wait()
        raise
    return rc, out, err, time.monotonic() - start


def run_process(argv: Sequence[str], timeout: float, env: dict[str, str] | None = None
                ) -> tuple[int | None, str, str, float]:
    """Run argv; return (rc or None when it timed out, stdout, stderr, seconds)."""
    rc, out, err, seconds = run_process_bytes(argv, timeout, env)
    return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), seconds


class ProcessStream(LineStream):
    """The lines of a local process (stdout and stderr merged); stop() kills its process group.
    With `hold_stdin`, its stdin is a pipe kept open until stop() (ssh uses that: the remote side
    sees end-of-file and ends the command)."""

    def __init__(self, argv: Sequence[str], hold_stdin: bool = False):
        self.proc = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE if hold_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self._stopped = self._reading = False
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[str]:
        out = self.proc.stdout
        assert out is not None
        self._reading = True
        try:
            for raw in out:
                if self._stopped:
                    break
                yield raw.decode("utf-8", "replace").rstrip("\r\n")
            if not self._stopped:
                self.rc = self.proc.wait()
        finally:
            self._reading = False
            out.close()

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        self._stopped = True
        if self.proc.returncode is not None:
            return
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=0.5 if self.proc.stdin else 0)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            kill_group(self.proc)
        self.proc.wait()
        if self.proc.stdout and not self._reading:
            self.proc.stdout.close()


class LocalRunner(Runner):
    """Runs argv on this machine, without a shell."""

    def __init__(self, name: str = "local"):
        self.name = name

    def run(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        argv = list(argv)
        if not argv:
            raise ValueError("empty argv")
        start = time.monotonic()
        try:
            rc, out, err, seconds = run_process(argv, timeout)
        except FileNotFoundError:
            return CommandResult(RC_NOT_FOUND, "", f"{argv[0]}: command not found\n",
                                 time.monotonic() - start)
        except (PermissionError, OSError) as exc:
            return CommandResult(RC_CANNOT_RUN, "", f"{argv[0]}: {exc.strerror or exc}\n",
                                 time.monotonic() - start)
        if rc is None:
            note = f"sparkpilot: `{argv[0]}` timed out after {timeout:g}s and was killed\n"
            return CommandResult(RC_TIMEOUT, out, err + note, seconds)
        return CommandResult(rc, out, err, seconds)

    def run_many(self, argvs: Sequence[Sequence[str]], timeout: float = 10.0,
                 workers: int = 8) -> list[CommandResult]:
        """Every argv at once, in one `sh -c` script (transport/batch.py), as over ssh."""
        from sparkpilot.transport import batch

        return batch.run_script(self, argvs, timeout, lambda argv, limit: run_process_bytes(argv, limit)[:3])

    def stream(self, argv: Sequence[str]) -> LineStream:
        argv = [str(a) for a in argv]
        if not argv:
            raise ValueError("empty argv")
        return ProcessStream(argv)

    def read_bytes(self, remote: str) -> bytes:
        try:
            return Path(remote).read_bytes()
        except OSError as exc:
            raise TransportError(f"{self.name}: cannot read {remote}: {exc.strerror or exc}") from None

    def write_bytes(self, remote: str, data: bytes, mode: int | None = None) -> None:
        target = Path(remote)
        fd, tmp = tempfile.mkstemp(prefix=".sparkpilot-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, mode if mode is not None else 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
