"""The SM121 knowledge as data.

Each `<kind>.yaml` in this folder is a list of entries with at least `id` and `name`:
  rules.yaml     lint rules        ids SPL###   (sparkpilot.rules)
  checks.yaml    doctor checks     ids SPD###   (sparkpilot.probes / doctor)
  failures.yaml  failure classes   ids SPF###   (sparkpilot.diagnosis)
  fabric.yaml    QSFP fabric thresholds ids SPN### (sparkpilot.knowledge.fabric: net check, diagnose)
  stacks.yaml    the stacks rules are judged for (image, vLLM version, driver)
Common fields: id, name, severity, applies_to, summary, why, example, fix, evidence.
`find(name_or_id)` searches every file, so `sparkpilot explain X` finds any of them.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
KINDS = ("rules", "checks", "failures", "fabric", "monitor")


@functools.lru_cache(maxsize=None)
def load(kind: str) -> list[dict[str, Any]]:
    """Entries of knowledge/<kind>.yaml (empty list when the file does not exist yet)."""
    path = HERE / f"{kind}.yaml"
    if not path.exists():
        return []
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    if isinstance(data, dict):
        data = data.get("entries") or data.get(kind) or []
    return list(data or [])


def find(name_or_id: str) -> tuple[str, dict[str, Any]] | None:
    key = name_or_id.strip().lower()
    for kind in KINDS:
        for entry in load(kind):
            if key in (str(entry.get("id", "")).lower(), str(entry.get("name", "")).lower()):
                return kind, entry
    return None


def all_names() -> list[str]:
    return [str(e.get("name")) for kind in KINDS for e in load(kind)]
