"""The local command line that runs an argv on a runner's host, for the relay in sync.py, which
pipes one host's output into another's input (the Runner interface has no stdin pipe)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from sparkpilot.transport.base import Runner


def command_argv(runner: Runner, argv: Sequence[str]) -> list[str]:
    """The local argv that runs `argv` on the runner's host (ssh for SshRunner, as is for local)."""
    from sparkpilot.transport.ssh import SshRunner

    argv = [str(a) for a in argv]
    if isinstance(runner, SshRunner):
        runner.connect()
        return list(runner.ssh_argv("-T", command=shlex.join(argv)))
    return argv
