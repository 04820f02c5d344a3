"""Runs kept per host and deployment: $XDG_DATA_HOME/sparkpilot/bench/<host>/<deployment>/<run-id>.json.

A run is found again by its id, by a path, or as the newest run of a host/deployment; a run is
never returned for another host than the one it names (the key is part of the path and the file).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from sparkpilot.errors import EXIT_USAGE, SparkpilotError


def root() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sparkpilot" / "bench"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "_"


def new_run_id(now: float | None = None) -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now if now is not None else time.time()))


def save(run: dict[str, Any]) -> Path:
    key = run["key"]
    folder = root() / _slug(key["host"]) / _slug(key["deployment"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run['id']}.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{run['id']}-{n}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(run, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def load(ref: str) -> dict[str, Any]:
    """A run by file path, by id (searched under every host), or host/deployment for its newest run."""
    path = Path(ref)
    candidates: list[Path] = []
    if path.is_file():
        candidates = [path]
    elif root().is_dir():
        candidates = sorted(root().glob(f"*/*/{_slug(ref)}.json"))
        if not candidates and "/" in ref:
            host, _, deployment = ref.partition("/")
            candidates = sorted((root() / _slug(host) / _slug(deployment)).glob("*.json"))[-1:]
    if not candidates:
        raise SparkpilotError(f"no benchmark run `{ref}` (a run file, a run id, or HOST/DEPLOYMENT; "
                              f"runs are kept under {root()})", EXIT_USAGE)
    if len(candidates) > 1:
        raise SparkpilotError(f"run id `{ref}` names {len(candidates)} runs; give HOST/DEPLOYMENT or the file",
                              EXIT_USAGE)
    try:
        data = json.loads(candidates[0].read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SparkpilotError(f"{candidates[0]}: not a benchmark run ({exc})", EXIT_USAGE) from exc
    if not isinstance(data, dict) or "key" not in data or "loads" not in data:
        raise SparkpilotError(f"{candidates[0]}: not a sparkpilot benchmark run", EXIT_USAGE)
    return data
