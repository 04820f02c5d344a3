"""The QSFP fabric thresholds (knowledge/fabric.yaml), read once for net check and diagnose.

    from sparkpilot.knowledge.fabric import threshold, limit
    limit("nccl-allgather-busbw")          -> 21.9   (its pass_at_least)
    limit("link-speed", "switch_port_100g") -> 100000
    threshold("SPN003")["evidence"]         -> the sources

A name or id that is not there raises KeyError: a typo never silently judges against nothing.
"""

from __future__ import annotations

from typing import Any


def thresholds() -> dict[str, dict[str, Any]]:
    """name -> entry, in file order."""
    from sparkpilot.knowledge import load

    return {str(e["name"]): e for e in load("fabric")}


def threshold(name_or_id: str) -> dict[str, Any]:
    key = name_or_id.strip().lower()
    for entry in thresholds().values():
        if key in (str(entry["name"]).lower(), str(entry["id"]).lower()):
            return entry
    raise KeyError(f"no fabric threshold `{name_or_id}` in knowledge/fabric.yaml")


def limit(name_or_id: str, field: str = "pass_at_least") -> float:
    entry = threshold(name_or_id)
    if field not in entry:
        raise KeyError(f"fabric threshold `{name_or_id}` has no `{field}`")
    return float(entry[field])


def healthy(name_or_id: str) -> tuple[float, float] | None:
    """The (low, high) range healthy public runs show, or None."""
    rng = threshold(name_or_id).get("healthy")
    return (float(rng[0]), float(rng[1])) if rng else None


def source_lines(name_or_id: str) -> list[str]:
    return [str(s) for s in threshold(name_or_id).get("evidence") or []]
