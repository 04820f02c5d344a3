"""What this machine remembers of a deployment it started: the plan, the hosts, the supervisor.

One JSON file per deployment under $XDG_STATE_HOME/sparkpilot/deployments (default
~/.local/state/...), so `down NAME`, `status` and `logs NAME` find the nodes without --host.
The containers themselves carry labels (sparkpilot.deployment=NAME): the nodes are the truth,
this file only says where to look.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def root() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "sparkpilot" / "deployments"


def path(name: str) -> Path:
    return root() / f"{name}.json"


def save(name: str, data: dict[str, Any]) -> Path:
    p = path(name)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(p)
    return p


def load(name: str) -> dict[str, Any] | None:
    try:
        return json.loads(path(name).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def names() -> list[str]:
    d = root()
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


def forget(name: str) -> None:
    forget_token(name)
    for suffix in (".json", ".tmp"):
        try:
            path(name).with_suffix(suffix).unlink()
        except FileNotFoundError:
            pass


def log_path(name: str) -> Path:
    return root() / f"{name}.supervisor.log"


def token_path(name: str) -> Path:
    return root() / f"{name}.token"


def save_token(name: str, token: str) -> Path:
    """HF_TOKEN for the deployment's supervisor (its restarts' `docker run`): a file made 0600 from
    the start (O_EXCL, never world-readable for a moment), never on a command line or in a log."""
    p = token_path(name)
    p.parent.mkdir(parents=True, exist_ok=True)
    forget_token(name)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token)
    return p


def load_token(name: str) -> str | None:
    try:
        return token_path(name).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def forget_token(name: str) -> None:
    try:
        token_path(name).unlink()
    except FileNotFoundError:
        pass
