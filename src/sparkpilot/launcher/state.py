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
    for suffix in (".json", ".tmp"):
        try:
            path(name).with_suffix(suffix).unlink()
        except FileNotFoundError:
            pass


def log_path(name: str) -> Path:
    return root() / f"{name}.supervisor.log"
