"""LintContext: the launch plus what the rules are judged against (nodes, stack, model facts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sparkpilot import words
from sparkpilot.rules.finding import Edit, Finding
from sparkpilot.rules.modelfacts import ModelFacts
from sparkpilot.vllm.launchspec import LaunchSpec


@dataclass
class LintContext:
    spec: LaunchSpec
    nodes: int
    nodes_why: str
    stack: dict[str, Any]
    stack_why: str
    model: ModelFacts
    flags_version: str | None = None
    table: Mapping[str, Any] | None = None
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)   # rule name -> rules.yaml entry
    nodes_assumed: bool = False     # the node count is a guess from TP x PP (no cluster in the launch)
    host_gids: dict[str, set[int]] = field(default_factory=dict)  # --host: each node's RoCEv2 IPv4 GID indexes

    # ---- launch helpers
    def opt(self, dest: str, default: Any = None) -> Any:
        return self.spec.options.get(dest, default)

    def has_opt(self, dest: str) -> bool:
        return dest in self.spec.options

    def env(self, var: str) -> str | None:
        return self.spec.env.get(var)

    def where(self, *names: str) -> str | None:
        for n in names:
            if n in self.spec.locations:
                return self.spec.locations[n]
        return self.spec.filename or None

    @property
    def multi_node(self) -> bool:
        return self.nodes > 1

    @property
    def executor(self) -> str:
        if not self.multi_node:
            return "single"
        if self.spec.executor == "native" or _int(self.opt("nnodes")) > 1:
            return "native"
        return "ray"

    @property
    def world(self) -> int:
        return max(1, self.spec.tensor_parallel) * max(1, self.spec.pipeline_parallel)

    def flag_exists(self, flag: str) -> bool | None:
        """Whether the judged vLLM has a flag (None: no table to say)."""
        if not self.table:
            return None
        return flag in self.table

    # ---- findings
    def finding(self, name: str, message: str, *, severity: str | None = None, location: str | None = None,
                edits: list[Edit] | None = None, fix: str | None = None, evidence: str | None = None) -> Finding:
        meta = self.meta.get(name, {})
        sev = words.severity(severity or _stack_severity(meta, self.stack) or meta.get("severity", "warning"))
        return Finding(rule=name, id=str(meta.get("id", "")), severity=sev, message=message,
                       fix=fix if fix is not None else " ".join(str(meta.get("fix", "")).split()),
                       evidence=evidence if evidence is not None else " ".join(str(meta.get("evidence", "")).split()),
                       location=location, edits=list(edits or []))


def _stack_severity(meta: dict[str, Any], stack: dict[str, Any]) -> str | None:
    by = meta.get("severity_by_stack") or {}
    if stack.get("name") in by:
        return by[stack["name"]]
    if stack.get("family") in by:
        return by[stack["family"]]
    return None


def _int(v: Any) -> int:
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return 0
