"""Changes to hosts: what `--apply` runs, in one place.

    Change(host, argv, undo=None, verify=None, description="")   # one command that changes a host
    apply(changes, runners=None, timeout=10.0) -> [ChangeResult]  # in order per host, hosts side by side
    undo(results) -> [ChangeResult]                              # revert what was done, newest first

A ChangeResult's `outcome` is one of OUTCOMES: `done` (ran, and its verify command, if any, passed),
`failed` (non-zero exit, or the verify command failed), `needs-sudo` (sudo -n was refused: the
user runs it), `unreachable` (the host did not answer; the host's later changes are not tried),
`skipped` (a recorded host, or after the host stopped answering). Anything but `done` counts as a
failure in the caller's exit code (`failed(results)`). Nothing here decides *whether* to change a
host: callers show the changes first and call `apply` only with `--apply`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from sparkpilot.errors import TransportError
from sparkpilot.transport.base import Runner, close_all

Outcome = Literal["done", "failed", "needs-sudo", "unreachable", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("done", "failed", "needs-sudo", "unreachable", "skipped")
SUDO_REFUSED = ("a password is required", "a terminal is required", "no tty present")


@dataclass(frozen=True)
class Change:
    host: str                                   # host spec, as the user gave it
    argv: tuple[str, ...]
    undo: tuple[str, ...] | None = None         # the argv that reverts it, when there is one
    verify: tuple[str, ...] | None = None       # an argv whose exit 0 says the change took
    description: str = ""                       # why (e.g. the check that asked for it)
    timeout: float = 60.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "argv", tuple(str(a) for a in self.argv))
        if not self.argv:
            raise ValueError("a Change needs a command")
        for name in ("undo", "verify"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(str(a) for a in value))

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


@dataclass
class ChangeResult:
    change: Change
    outcome: Outcome
    detail: str = ""
    rc: int | None = None
    stderr: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return self.outcome == "done"

    def to_dict(self) -> dict[str, object]:
        return {"host": self.change.host, "argv": list(self.change.argv), "description": self.change.description,
                "outcome": self.outcome, "detail": self.detail, "rc": self.rc}


def failed(results: Sequence[ChangeResult]) -> bool:
    return any(not r.ok for r in results)


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def without_sudo(argv: Sequence[str]) -> list[str]:
    """`sudo -n X ...` -> `X ...` (what a user runs by hand when sudo -n is refused)."""
    out = list(argv)
    if out[:1] == ["sudo"]:
        out = out[1:]
        while out and out[0].startswith("-"):
            out = out[1:]
    return out


def run_one(runner: Runner, change: Change) -> ChangeResult:
    """Run one change (and its verify command). TransportError propagates (the host is gone)."""
    res = runner.run(list(change.argv), timeout=change.timeout)
    if res.rc != 0:
        if any(s in res.stderr for s in SUDO_REFUSED):
            return ChangeResult(change, "needs-sudo",
                                f"needs passwordless sudo: run it yourself: {shlex.join(without_sudo(change.argv))}",
                                res.rc, res.stderr)
        err = _first_line(res.stderr) or _first_line(res.stdout)
        return ChangeResult(change, "failed", f"exit {res.rc}" + (f": {err}" if err else ""), res.rc, res.stderr)
    if change.verify:
        check = runner.run(list(change.verify), timeout=change.timeout)
        if check.rc != 0:
            return ChangeResult(change, "failed", f"ran, but `{shlex.join(change.verify)}` still fails "
                                f"(exit {check.rc})", res.rc, check.stderr)
    return ChangeResult(change, "done", "", res.rc, res.stderr)


def _apply_host(runner: Runner | None, changes: list[Change], why_not: str | None) -> list[ChangeResult]:
    out: list[ChangeResult] = []
    for change in changes:
        if runner is None:
            out.append(ChangeResult(change, "unreachable" if not out else "skipped", why_not or ""))
            continue
        if runner.recorded:
            out.append(ChangeResult(change, "skipped", "recorded host, nothing applied"))
            continue
        try:
            out.append(run_one(runner, change))
        except TransportError as exc:
            why_not = _first_line(str(exc))
            out.append(ChangeResult(change, "unreachable", why_not))
            runner = None
    return out


def apply(changes: Sequence[Change], runners: Mapping[str, Runner] | None = None, timeout: float = 10.0,
          connect: Callable[..., Runner] | None = None) -> list[ChangeResult]:
    """Run every change: a host's changes in order, hosts side by side; results in the order given.

    `runners` maps host specs to open runners (left open); other hosts are connected with
    `connect(host, timeout=timeout)` (transport.connect) and closed afterwards."""
    if connect is None:
        from sparkpilot.transport import connect as connect_
        connect = connect_
    by_host: dict[str, list[Change]] = {}
    for c in changes:
        by_host.setdefault(c.host, []).append(c)
    given = dict(runners or {})
    opened: list[Runner] = []

    def one(host: str) -> list[ChangeResult]:
        runner, why = given.get(host), None
        if runner is None:
            try:
                runner = connect(host, timeout=timeout)
                opened.append(runner)
            except TransportError as exc:
                why = _first_line(str(exc))
        return _apply_host(runner, by_host[host], why)

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(16, len(by_host)))) as pool:
            done = dict(zip(by_host, pool.map(one, list(by_host)), strict=False))
    finally:
        close_all(opened)
    cursor = {h: iter(rs) for h, rs in done.items()}
    return [next(cursor[c.host]) for c in changes]


def undo(results: Sequence[ChangeResult], runners: Mapping[str, Runner] | None = None,
         timeout: float = 10.0, connect: Callable[..., Runner] | None = None) -> list[ChangeResult]:
    """Revert the changes that were done and can be undone, newest first (per host)."""
    reverts = [Change(r.change.host, r.change.undo, description=f"undo: {r.change.command}",
                      timeout=r.change.timeout)
               for r in reversed(results) if r.ok and r.change.undo]
    return apply(reverts, runners, timeout, connect) if reverts else []
