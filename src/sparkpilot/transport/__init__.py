"""The transport layer: one way to run a command on a host, whatever the host is.

Every runner (local, ssh, replay) is a `Runner` (transport/base.py: run, run_many, stream,
put/get, start_detached, close). A host that does not answer raises `sparkpilot.errors.TransportError`
(ssh exit 255, refused, auth failure, unknown host key, no answer in time); a command that ran
and failed is a CommandResult with rc != 0.

    connect("local")                 -> LocalRunner
    connect("replay://single")       -> ReplayRunner (recorded host shipped with the package)
    connect("user@spark-1:2222")     -> SshRunner (the system OpenSSH client)
"""

from __future__ import annotations

from typing import Any

from sparkpilot.errors import UsageError
from sparkpilot.transport.base import CommandResult, LineStream, Runner, close_all
from sparkpilot.transport.hosts import REPLAY_PREFIX, HostSpec, parse_host_spec

__all__ = ["REPLAY_PREFIX", "CommandResult", "HostSpec", "LineStream", "Runner", "close_all", "connect",
           "parse_host_spec"]

def connect(spec: str, *, timeout: float = 10.0, **ssh_options: Any) -> Runner:
    """A Runner for a host spec. Nothing is contacted yet: the first command connects.

    `timeout` bounds the connection (ssh ConnectTimeout) and is the default command timeout.
    Extra keyword arguments go to SshRunner (ssh_config, options).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError("empty host: give `local`, `user@host[:port]` or `ssh://user@host:port`")
    spec = spec.strip()
    if spec == "local":
        from sparkpilot.transport.local import LocalRunner

        return LocalRunner()
    if spec.startswith(REPLAY_PREFIX):
        name = spec[len(REPLAY_PREFIX):]
        if not name.strip("/"):
            raise UsageError(f"bad host `{spec}`: give a recording name, e.g. replay://single")
        from sparkpilot.transport.replay import ReplayRunner

        return ReplayRunner(name)
    from sparkpilot.transport.ssh import SshRunner

    return SshRunner(spec, connect_timeout=timeout, **ssh_options)
