"""Processes that outlive the session that started them: `runner.start_detached(argv, unit)`.

`net`'s rollback timer and `up`'s supervisor must keep running when the ssh session (or this
sparkpilot) ends. On a host that runs systemd, as root, the process is a transient systemd unit
(`systemd-run --unit NAME --collect`): PID 1 is its parent, `systemctl` sees it, the journal
keeps its output. Elsewhere (a container, no root) it is `setsid nohup`: a new session and
process group, no controlling terminal, SIGHUP ignored, output in
~/.cache/sparkpilot/detached/NAME.log and its pid in NAME.pid. Either way one shell command on
the host, so it works over any runner.

    handle = runner.start_detached(["sh", "-c", "sleep 300; nmcli con up old"], "sparkpilot-rollback")
    handle.running() -> bool      handle.stop() -> None      handle.kind: "systemd" | "setsid"
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sparkpilot.errors import TransportError, UsageError

if TYPE_CHECKING:
    from sparkpilot.transport.base import Runner

UNIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,80}$")
STATE_DIR = '"${HOME:-/tmp}/.cache/sparkpilot/detached"'

# $1 = unit name, the rest = argv. Prints "systemd UNIT" or "setsid PID".
START = r"""u=$1; shift
if [ "$(id -u)" = 0 ] && [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
  systemd-run --unit="$u" --collect --quiet -- "$@" >/dev/null || exit $?
  echo "systemd $u"; exit 0
fi
d=%(dir)s; mkdir -p "$d" || exit 1
if [ -s "$d/$u.pid" ] && kill -0 "$(cat "$d/$u.pid")" 2>/dev/null; then
  echo "sparkpilot: $u is already running (pid $(cat "$d/$u.pid"))" >&2; exit 17
fi
if command -v setsid >/dev/null 2>&1; then s=setsid; else s=; fi
$s nohup "$@" >"$d/$u.log" 2>&1 </dev/null &
echo $! >"$d/$u.pid"; echo "setsid $!"
""" % {"dir": STATE_DIR}

RUNNING = r"""if [ "$1" = systemd ]; then systemctl is-active --quiet "$2"; exit $?; fi
p=$(cat %(dir)s/"$2".pid 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null &&
  ! grep -q '^State:.*Z' /proc/"$p"/status 2>/dev/null
""" % {"dir": STATE_DIR}

STOP = r"""if [ "$1" = systemd ]; then systemctl stop "$2" 2>/dev/null; exit 0; fi
f=%(dir)s/"$2".pid; p=$(cat "$f" 2>/dev/null) || exit 0
kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; rm -f "$f"; exit 0
""" % {"dir": STATE_DIR}


@dataclass
class Detached:
    """A process started by `start_detached`; ask and stop it through any runner to its host."""

    runner: Runner
    unit: str
    kind: Literal["systemd", "setsid"]
    pid: int | None = None

    def running(self) -> bool:
        return self.runner.run(["sh", "-c", RUNNING, "sh", self.kind, self.unit], timeout=10).rc == 0

    def stop(self) -> None:
        self.runner.run(["sh", "-c", STOP, "sh", self.kind, self.unit], timeout=20)


def start(runner: Runner, argv: Sequence[str], unit: str) -> Detached:
    argv = [str(a) for a in argv]
    if not argv:
        raise ValueError("empty argv")
    if not UNIT.match(unit):
        raise UsageError(f"bad unit name `{unit}`: letters, digits, `_.@-`")
    res = runner.run(["sh", "-c", START, "sh", unit, *argv], timeout=30)
    words = res.stdout.split()
    if res.rc != 0 or len(words) != 2 or words[0] not in ("systemd", "setsid"):
        why = (res.stderr.strip().splitlines() or [f"exit {res.rc}"])[-1]
        raise TransportError(f"{runner.name}: could not start {unit}: {why}")
    if words[0] == "systemd":
        return Detached(runner, unit, "systemd")
    return Detached(runner, unit, "setsid", int(words[1]))
