"""`up --restart on-failure[:N]`: a supervisor that outlives `up`, on this machine.

It watches the deployment as a whole: when any rank's container exits, or the head's /health
fails HEALTH_FAILS times in a row, it removes every container on every node and starts them all
again (a lone restarted rank would leave an orphaned cluster), with back-off, at most N times,
and logs why to the deployment's supervisor log. Never Docker's per-container restart policy.
`status` shows it (its unit in the deployment's state file); `down` stops it first.
A rank that exited is diagnosed from its log first: a class that will not fix itself (SPU020, the
rule `up` applies before ready: `restartable`) removes the deployment and stops the supervisor.
HF_TOKEN reaches it through a 0600 file in this machine's state dir (state.save_token), never argv.

    python -m sparkpilot.launcher.supervisor_loop NAME  # what `up` starts, detached (the loop)
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from sparkpilot.launcher import state
from sparkpilot.launcher.events import Event

HEALTH_FAILS = 3
CHECK_EVERY_S = 5.0
BACKOFF_S = (5.0, 15.0, 60.0, 300.0)


def parse_policy(text: str) -> int | None:
    """`on-failure` -> None (no limit), `on-failure:N` -> N; anything else is a UsageError."""
    from sparkpilot.errors import UsageError

    kind, _, n = text.partition(":")
    if kind != "on-failure" or (n and (not n.isdigit() or int(n) < 1)):
        raise UsageError(f"bad --restart {text!r}: give on-failure or on-failure:N (N >= 1)")
    return int(n) if n else None


# what the supervisor needs from up's environment (systemd-run starts it with a clean one)
PASS_ENV = ("SPARKPILOT_SSH_CONFIG", "SPARKPILOT_TIME_SCALE", "XDG_STATE_HOME", "HOME", "PATH")


def restartable(failure: Any) -> tuple[bool, str]:
    """Whether a failure is worth a restart of the whole deployment (SPU020 in knowledge/launch.yaml),
    before ready (up) and after (the supervisor's loop): False with the reason for a class a restart
    cannot fix. None (no diagnosis: a rank killed, /health failing, a host lost) may pass."""
    from sparkpilot import knowledge

    cls = getattr(failure, "cls", None) or "unrecognised"
    rule = next((e for e in knowledge.load("launch") if e.get("id") == "SPU020"), {})
    if cls in (rule.get("no_restart") or []):
        return False, f"{cls} will not fix itself: a restart would end the same way (SPU020)"
    return True, f"{cls} may pass: restarting the whole deployment (SPU020)"


def diagnose_exit(runner: Any, container: str, node: str) -> Any:
    """The diagnosis Failure of an exited rank's log (None: no known error line, or no log)."""
    from sparkpilot.diagnosis import diagnose
    from sparkpilot.launcher import containers

    try:
        logs = containers.read_logs(runner, container)
    except Exception:  # noqa: BLE001 - a log that cannot be read leaves the exit unexplained (restartable)
        return None
    return diagnose(logs.text, source=node).failure


def backoff(done: int) -> float:
    """Seconds to wait before restart number done+1 (BACKOFF_S, scaled by SPARKPILOT_TIME_SCALE)."""
    from sparkpilot.timescale import time_scale

    return BACKOFF_S[min(done, len(BACKOFF_S) - 1)] * time_scale()


def unit(name: str) -> str:
    return f"sparkpilot-supervisor-{name}"


def start(dep: Any, policy: str, restarts: int = 0) -> Iterator[Event]:
    """Start the supervisor for a deployment that is ready (its state file is written by up),
    detached from this session (transport start_detached: systemd-run, or setsid nohup).
    `restarts`: those up made before ready; they count against the policy's N."""
    from sparkpilot.transport.local import LocalRunner

    data = state.load(dep.name) or {}
    data["restart"] = policy
    data["restarts"] = restarts
    state.save(dep.name, data)
    if os.environ.get("HF_TOKEN"):   # for the restarts' docker run (systemd-run gives a clean environment)
        state.save_token(dep.name, os.environ["HF_TOKEN"])
    else:                            # none now: an earlier deployment's file of this name must not serve
        state.forget_token(dep.name)
    env = [f"{k}={os.environ[k]}" for k in PASS_ENV if os.environ.get(k)]
    argv = ["env", *env, sys.executable, "-m", "sparkpilot.launcher.supervisor_loop", dep.name]
    handle = LocalRunner().start_detached(argv, unit(dep.name))
    data["supervisor"] = {"unit": handle.unit, "kind": handle.kind, "pid": handle.pid}
    state.save(dep.name, data)
    yield Event("supervisor", f"supervisor started ({handle.kind} {handle.unit}"
                              f"{f', pid {handle.pid}' if handle.pid else ''}, --restart {policy})",
                data={"unit": handle.unit, "kind": handle.kind, "pid": handle.pid, "policy": policy})


def _handle(name: str) -> Any:
    from sparkpilot.transport.detached import Detached
    from sparkpilot.transport.local import LocalRunner

    sup = (state.load(name) or {}).get("supervisor")
    if not sup:
        return None
    return Detached(LocalRunner(), sup["unit"], sup["kind"], sup.get("pid"))


def alive(name: str) -> bool:
    h = _handle(name)
    return bool(h and h.running())


def stop(name: str) -> str | None:
    """Stop a deployment's supervisor; its unit name when one was running."""
    h = _handle(name)
    if h is None or not h.running():
        return None
    h.stop()
    for _ in range(50):
        if not h.running():
            break
        time.sleep(0.1)
    return h.unit
