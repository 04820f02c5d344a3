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
import time
from typing import Sequence

from sparkpilot.transport.base import CommandResult

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


def run_process_bytes(argv: Sequence[str], timeout: float, env: dict[str, str] | None = None
                      ) -> tuple[int | None, bytes, bytes, float]:
    """Run argv; return (rc or None when it timed out, stdout, stderr as bytes, seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, env=env,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
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


class LocalRunner:
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

    def run_many(self, argvs: Sequence[Sequence[str]], timeout: float = 10.0) -> list[CommandResult]:
        """Every argv at once, in one `sh -c` script (transport/batch.py), as over ssh."""
        from sparkpilot.transport import batch

        return batch.run_script(self, argvs, timeout, lambda argv, limit: run_process_bytes(argv, limit)[:3])

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"LocalRunner({self.name!r})"
