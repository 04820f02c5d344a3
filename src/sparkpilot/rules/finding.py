"""Finding: one thing lint found, with the machine-readable edits --fix applies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparkpilot.words import Severity

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Edit:
    """One change to a launch: ("set_flag", "--moe-backend", "marlin"), ("set_flag", "--x", None) for a
    bare flag, ("remove_flag", "--enforce-eager", None) or ("set_env", "VAR", "value")."""
    op: str
    name: str
    value: str | None = None

    def describe(self) -> str:
        if self.op == "set_flag":
            return f"set {self.name}" + (f" {self.value}" if self.value is not None else "")
        if self.op == "remove_flag":
            return f"remove {self.name}"
        return f"set {self.name}={self.value}"


@dataclass
class Finding:
    rule: str
    id: str
    severity: Severity
    message: str
    fix: str = ""
    evidence: str = ""
    location: str | None = None
    edits: list[Edit] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "id": self.id, "severity": self.severity, "message": self.message,
                "fix": self.fix, "evidence": self.evidence, "location": self.location}
