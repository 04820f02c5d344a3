"""What pasted host output becomes: a Paste (tool, facts, findings), and the helpers every
recogniser shares (pasted.py for GPU/driver/memory/logs, pasted_net.py for the network tools).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

QSFP_RE = re.compile(r"^en[pP]\d*p?\d+s0f\d+np\d+$")  # enp1s0f0np0, enP2p1s0f1np1: the CX-7 ports
PROMPT_RE = re.compile(r"^\s*(?:\S+@\S+[:~][^$#]*)?[$#]\s+\S")  # `$ cmd`, `user@host:~$ cmd`


@dataclass
class Paste:
    tool: str
    what: str
    facts: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, str]] = field(default_factory=list)

    def add(self, level: str, check: str, message: str, fix: str = "") -> None:
        self.findings.append({"level": level, "check": check, "message": message, "fix": fix})

    @property
    def failed(self) -> bool:
        return any(f["level"] in ("fail", "warn") for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "what": self.what, "facts": self.facts, "findings": self.findings}


def fabric(name: str) -> dict[str, Any]:
    from sparkpilot.knowledge.fabric import threshold

    return threshold(name)


def strip_prompt(text: str) -> str:
    lines = text.strip("\n").splitlines()
    return "\n".join(ln for ln in lines if not PROMPT_RE.match(ln))
