"""The supervisor's loop (supervisor.py starts it detached, stops it, and says what it does).

    python -m sparkpilot.launcher.supervisor_loop NAME
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from sparkpilot.launcher import state
from sparkpilot.launcher.supervisor import (
    CHECK_EVERY_S,
    HEALTH_FAILS,
    backoff,
    diagnose_exit,
    parse_policy,
    restartable,
)
from sparkpilot.secrets import mask_secrets


def _log(msg: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {mask_secrets(msg)}", flush=True)


def _record(name: str, **fields: Any) -> None:
    """What the supervisor did, in the deployment's state for `status` (restarts, the last reason,
    why it stopped); nothing once `down` forgot the deployment."""
    data = state.load(name)
    if not data:
        return
    sup = dict(data.get("supervisor") or {})
    sup.update({k: mask_secrets(v) if isinstance(v, str) else v for k, v in fields.items()})
    data["supervisor"] = sup
    state.save(name, data)


def main(argv: list[str] | None = None) -> int:
    from sparkpilot.launcher import containers, readiness
    from sparkpilot.launcher.deployment import Deployment
    from sparkpilot.launcher.up import Up, UpOptions, teardown
    from sparkpilot.transport import connect

    name = (argv or sys.argv[1:])[0]
    data = state.load(name)
    if not data:
        _log(f"no state for {name}: nothing to supervise")
        return 1
    token = state.load_token(name)
    if token:   # up's HF_TOKEN (a 0600 file): each restart's docker run gets it by up's env file
        os.environ["HF_TOKEN"] = token
    limit = parse_policy(data.get("restart") or "on-failure")
    dep = Deployment.from_plan(data["plan"], data["hosts"], name=name, port=data.get("port"))
    runners = {n.rank: connect(n.host) for n in dep.nodes}
    stopping = False

    def on_term(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    def nap(seconds: float) -> None:   # a sleep that ends soon after SIGTERM (`down` waits for it)
        end = time.monotonic() + seconds
        while not stopping and time.monotonic() < end:
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))

    signal.signal(signal.SIGTERM, on_term)
    restarts, fails = int(data.get("restarts") or 0), 0   # up's restarts before ready count too
    _log(f"supervising {name} on {', '.join(n.name for n in dep.nodes)} (restart {data.get('restart')})")
    while not stopping:
        nap(CHECK_EVERY_S)
        if stopping:
            break
        why, exited = None, None
        try:
            for n in dep.nodes:
                status, code = containers.state(runners[n.rank], dep.container)
                if status not in ("running", "restarting"):
                    why = f"{n.name}: container {status}" + (f" (exit {code})" if code is not None else "")
                    exited = n
                    break
            if why is None:
                fails = 0 if readiness.health(runners[0], dep.port) else fails + 1
                if fails >= HEALTH_FAILS:
                    why = f"/health failed {fails} times in a row"
        except Exception as exc:  # noqa: BLE001 - a host that stops answering is a reason, not the end
            why = f"{type(exc).__name__}: {exc}"
        if why is None or stopping:
            continue
        failure = diagnose_exit(runners[exited.rank], dep.container, exited.name) if exited else None
        if failure is not None:
            why = f"{why}: {failure.cls}: {failure.message} (fix: {failure.fix})"
        ok, reason = restartable(failure)   # SPU020, the rule up applies before ready
        give_up = None if ok else f"not restarting: {reason}"
        if give_up is None and limit is not None and restarts >= limit:
            give_up = f"{restarts} restart(s) done, the limit"
        if give_up:
            _log(f"{why}; {give_up}: tearing down and stopping")
            _record(name, stopped=f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {why}; {give_up}"[:500])
            for ev in teardown(name, [(n.name, runners[n.rank]) for n in dep.nodes]):
                _log(f"{ev.node}: {ev.message}")
            state.forget_token(name)   # no restart to come: the token file goes
            break
        delay = backoff(restarts)
        restarts += 1
        _log(f"{why}: {reason}; restarting every container on every node in {delay:.0f} s (restart {restarts})")
        _record(name, restarts=restarts, last_restart=f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {why}"[:500])
        nap(delay)
        if stopping:
            break
        for ev in teardown(name, [(n.name, runners[n.rank]) for n in dep.nodes]):
            _log(f"{ev.node}: {ev.message}")
        opts = UpOptions(preflight=False, sync=False, smoke=True)
        launch = Up(dep, runners, opts).events()
        try:
            for ev in launch:
                if ev.kind in ("phase", "ready", "failure", "done", "teardown"):
                    _log(f"{ev.node or '-'}: {ev.kind}: {ev.message}")
                if stopping:   # `down` asked mid-restart: closing the launch removes what it started
                    _log(f"restart {restarts} abandoned: the supervisor is stopping")
                    break
            fails = 0
        except Exception as exc:  # noqa: BLE001 - a failed restart is logged and counted; the loop goes on
            _log(f"restart {restarts} failed: {exc}")
        finally:
            launch.close()
    _log("supervisor stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
