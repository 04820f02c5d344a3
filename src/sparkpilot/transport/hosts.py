"""Host specs as the user writes them: `host`, `user@host:port`, `ssh://user@host:port`.

    parse_host_spec("user@spark-1:2222") -> HostSpec(host="spark-1", user="user", port=2222)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sparkpilot.errors import UsageError

REPLAY_PREFIX = "replay://"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # host name, alias or IPv4 address
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$")


@dataclass(frozen=True)
class HostSpec:
    host: str
    user: str | None = None
    port: int | None = None

    @property
    def destination(self) -> str:
        """What to give ssh: [user@]host (the port goes in -p)."""
        return f"{self.user}@{self.host}" if self.user else self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and self.port else self.host
        text = f"{self.user}@{host}" if self.user else host
        return f"{text}:{self.port}" if self.port else text


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"bad host `{spec}`: port `{text}` is not a number from 1 to 65535")
    return int(text)


def parse_host_spec(spec: str) -> HostSpec:
    """`host`, `user@host`, `user@host:port`, `user@[v6addr]:port` or `ssh://user@host:port`.

    Anything else (empty, spaces, a leading `-`, an empty user, a bad port, another scheme)
    is a UsageError with one line, so nothing odd ever reaches the ssh command line.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError("empty host: give `local`, `user@host[:port]` or `ssh://user@host:port`")
    text = spec.strip()
    if text.startswith("ssh://"):
        text = text[len("ssh://"):].rstrip("/")
    elif "://" in text:
        raise UsageError(f"bad host `{spec}`: only ssh:// and replay:// addresses are understood")
    if not text or any(c.isspace() for c in text) or "/" in text:
        raise UsageError(f"bad host `{spec}`: expected `user@host[:port]`")
    user = None
    if "@" in text:
        user, _, text = text.rpartition("@")
        if not _USER.match(user):
            raise UsageError(f"bad host `{spec}`: user name `{user}` is not valid")
    port = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not _IPV6.match(host) or (rest and not rest.startswith(":")):
            raise UsageError(f"bad host `{spec}`: expected `[IPv6-address]:port`")
        if rest:
            port = _port(rest[1:], spec)
    elif text.count(":") > 1:  # a bare IPv6 address, no port
        host = text
        if not _IPV6.match(host):
            raise UsageError(f"bad host `{spec}`: `{host}` is not a host name or address")
    else:
        host, sep, port_text = text.partition(":")
        if sep:
            port = _port(port_text, spec)
        if not _NAME.match(host):
            raise UsageError(f"bad host `{spec}`: `{host}` is not a host name or address")
    return HostSpec(host=host, user=user, port=port)
