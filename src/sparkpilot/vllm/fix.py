"""Write a launch back in the form it came in, with edits applied (`sparkpilot lint --fix`).

Edits are ("set_flag", flag, value|None), ("remove_flag", flag) and ("set_env", VAR, value) (see
sparkpilot.rules.finding.Edit). A command or script is changed in place (only the vLLM command's
text is rewritten); a docker run gets `-e VAR=value`; a recipe keeps its `{placeholders}` and gets
new defaults and `env:` entries (its comments kept); compose and Kubernetes files are re-written
from their YAML (comments are lost there).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sparkpilot.vllm import fix_yaml
from sparkpilot.vllm.fix_text import command, script
from sparkpilot.vllm.launchspec import LaunchSpec


def apply(spec: LaunchSpec, edits: Iterable[Any]) -> str:
    edits = _dedupe(edits)
    kind = spec.source_kind
    origin = spec.origin or {}
    if kind in ("recipe", "compose", "k8s", "vllm-config"):
        return fix_yaml.WRITERS[kind](spec, edits)
    if "text" in origin or "inner" in origin:
        return script(spec, edits) if "text" in origin else command(spec, edits)
    return command(spec, edits)


def _dedupe(edits: Iterable[Any]) -> list[Any]:
    seen: dict[tuple[str, str], Any] = {}
    for e in edits:
        seen[(e.op if e.op != "remove_flag" else "set_flag", e.name)] = e
    return list(seen.values())


__all__ = ["apply"]
