"""knowledge/bench.yaml: hardware bounds and public Spark results, with their sources."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkpilot.errors import EXIT_USAGE, SparkpilotError

PATH = Path(__file__).resolve().parent.parent / "knowledge" / "bench.yaml"


@dataclass(frozen=True)
class Hardware:
    """Ceilings of one accelerator: memory bandwidth (GB/s) and peak TFLOPS per compute dtype."""

    name: str
    memory_bandwidth_gbs: float
    peak_tflops: dict[str, float]
    source: str


@dataclass(frozen=True)
class PublicResult:
    id: str
    model: str
    nodes: int
    concurrency: int
    tok_s: float
    source: str
    note: str = ""


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(PATH.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def hardware(name: str = "gb10") -> Hardware:
    entry = (_data().get("hardware") or {}).get(name)
    if not entry:
        raise SparkpilotError(f"unknown hardware `{name}` (known: {', '.join(_data().get('hardware') or {})})",
                              EXIT_USAGE)
    return Hardware(name=str(entry["name"]), memory_bandwidth_gbs=float(entry["memory_bandwidth_gbs"]),
                    peak_tflops={k: float(v) for k, v in (entry.get("peak_tflops") or {}).items()},
                    source=f"{entry.get('memory_bandwidth_source', '')} {entry.get('peak_tflops_source', '')}".strip())


def public_results() -> list[PublicResult]:
    return [PublicResult(id=str(e["id"]), model=str(e["model"]), nodes=int(e["nodes"]),
                         concurrency=int(e["concurrency"]), tok_s=float(e["tok_s"]),
                         source=str(e["source"]).strip(), note=str(e.get("note", "")))
            for e in _data().get("public_results") or []]


def run_to_run_spread() -> float:
    return float(_data().get("run_to_run_spread", 0.15))
