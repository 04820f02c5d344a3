"""The built-in catalog: models/catalog/<family>.json, found through models/catalog/index.json.

Each family file is {"family": ..., "entries": [entry, ...]}; an entry is
  id, aliases (optional), recipes (optional: public Spark recipes that run it), config (a trimmed
  copy of the model's config.json: the fields the mapping reads, quantization_config included, its
  ignore / exclude_modules list as published), weight_bytes, sources {config, weight_bytes: URL},
  num_parameters_published (optional), notes (optional).
  When no byte total was published, weight_bytes is DERIVED from the shapes and the quantisation
  format: weight_bytes_derived true, sources.weight_bytes_how starting with "derived" and saying
  how, weight_bytes_extra {bytes, what} for any part the shape model leaves out (GPTQ g_idx), and
  either cross_check [{what, value, unit (bytes|GB|GiB|billion bf16 parameters),
  tensor_parallel_size (per-GPU figures), tolerance, source}] with the public figures it was
  checked against, or cross_check_missing saying why there is none (tests/unit/test_models_catalog.py).
index.json maps every lower-cased id and alias to (id, file), so `lookup` reads one small index and
one family file, only when asked (lint startup does not pay for it). `build_index()` rewrites it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

CATALOG_DIR = Path(__file__).parent / "catalog"
INDEX = CATALOG_DIR / "index.json"
HF_PREFIXES = ("https://huggingface.co/", "http://huggingface.co/", "huggingface.co/", "hf.co/", "hf://")


def normalise(model_id: str) -> str:
    key = model_id.strip()
    for p in HF_PREFIXES:
        if key.lower().startswith(p):
            key = key[len(p):]
    return key.strip("/").lower()


@functools.lru_cache(maxsize=1)
def index() -> dict[str, Any]:
    try:
        return json.loads(INDEX.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"ids": {}, "names": {}}


@functools.lru_cache(maxsize=None)
def family(filename: str) -> dict[str, dict[str, Any]]:
    data = json.loads((CATALOG_DIR / filename).read_text(encoding="utf-8"))
    return {e["id"]: e for e in data.get("entries", [])}


def family_files() -> list[Path]:
    return sorted(p for p in CATALOG_DIR.glob("*.json") if p.name != "index.json")


def find_entry(model_id: str) -> dict[str, Any] | None:
    """The catalog entry for an id, alias, URL, or a path whose last part names one entry."""
    if not model_id or not model_id.strip():
        return None
    idx = index()
    key = normalise(model_id)
    hit = idx["ids"].get(key)
    if hit is None:
        name = key.rstrip("/").rsplit("/", 1)[-1]
        hit = idx["names"].get(name)            # a local path or a bare repo name, when unambiguous
    if hit is None:
        return None
    canonical, filename = hit
    return family(filename).get(canonical)


def catalog_ids() -> list[str]:
    return sorted({v[0] for v in index()["ids"].values()}, key=str.lower)


def closest(model_id: str, n: int = 3) -> list[str]:
    import difflib

    key = normalise(model_id)
    name = key.rsplit("/", 1)[-1]
    ids = catalog_ids()
    scored = []
    for cid in ids:
        low = cid.lower()
        short = low.rsplit("/", 1)[-1]
        score = max(difflib.SequenceMatcher(None, key, low).ratio(),
                    difflib.SequenceMatcher(None, name, short).ratio())
        if name and (name in short or short in name):
            score += 0.3
        scored.append((-score, cid))
    return [cid for _, cid in sorted(scored)[:max(0, n)]]


def build_index() -> dict[str, Any]:
    """Index of every family file (run after editing the catalog; a test checks it is current)."""
    ids: dict[str, list[str]] = {}
    names: dict[str, list[str] | None] = {}
    for path in family_files():
        data = json.loads(path.read_text(encoding="utf-8"))
        for e in data.get("entries", []):
            for alias in [e["id"], *e.get("aliases", [])]:
                low = alias.lower()
                if low in ids:
                    raise ValueError(f"{alias} is in the catalog twice")
                ids[low] = [e["id"], path.name]
                short = low.rsplit("/", 1)[-1]
                names[short] = None if short in names and names[short] != [e["id"], path.name] \
                    else [e["id"], path.name]
    return {"ids": dict(sorted(ids.items())),
            "names": {k: v for k, v in sorted(names.items()) if v is not None}}


def write_index() -> None:
    INDEX.write_text(json.dumps(build_index(), indent=0, sort_keys=True) + "\n", encoding="utf-8")
    index.cache_clear()
    family.cache_clear()
