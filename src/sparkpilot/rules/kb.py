"""Fast reads of knowledge/*.yaml for the lint path: a JSON copy in the user's cache directory
(keyed by the YAML file's size and mtime) saves importing PyYAML on every `sparkpilot lint`."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sparkpilot"


@functools.lru_cache(maxsize=8)
def read_yaml(path: str) -> Any:
    p = Path(path)
    st = p.stat()
    cache = _cache_dir() / f"{p.stem}-{st.st_size}-{st.st_mtime_ns}.json"
    try:
        return json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(p.read_text(encoding="utf-8"), Loader=loader)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, cache)
    except (OSError, TypeError, ValueError):
        pass   # a read-only home or a non-JSON value: just parse the YAML each time
    return data


def rules() -> list[dict[str, Any]]:
    from sparkpilot.knowledge import HERE

    data = read_yaml(str(HERE / "rules.yaml"))
    return list((data.get("rules") if isinstance(data, dict) else data) or [])
