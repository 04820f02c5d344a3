"""SARIF 2.1.0 for code scanning (`sparkpilot lint --format sarif`)."""

from __future__ import annotations

import re
from typing import Any

from sparkpilot.rules.finding import Finding

LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def sarif(findings: list[Finding], filename: str | None) -> dict[str, Any]:
    from sparkpilot import __version__
    from sparkpilot.knowledge import load

    rules = []
    for e in load("rules"):
        rules.append({
            "id": e["id"], "name": e["name"],
            "shortDescription": {"text": " ".join(str(e.get("summary", "")).split())},
            "fullDescription": {"text": " ".join(str(e.get("why", "")).split())},
            "help": {"text": " ".join(str(e.get("fix", "")).split())},
            "defaultConfiguration": {"level": LEVEL.get(e.get("severity", "warning"), "warning")},
            "properties": {"evidence": " ".join(str(e.get("evidence", "")).split())},
        })
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for f in findings:
        res: dict[str, Any] = {"ruleId": f.id, "level": LEVEL.get(f.severity, "warning"),
                               "message": {"text": f.message + (f" Fix: {f.fix}" if f.fix else "")}}
        if f.id in index:
            res["ruleIndex"] = index[f.id]
        uri, line = _where(f.location, filename)
        if uri:
            loc: dict[str, Any] = {"artifactLocation": {"uri": uri}}
            if line:
                loc["region"] = {"startLine": line}
            res["locations"] = [{"physicalLocation": loc}]
        results.append(res)
    return {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{"tool": {"driver": {"name": "sparkpilot", "version": __version__,
                                      "rules": rules}},
                  "results": results}],
    }


def _where(location: str | None, filename: str | None) -> tuple[str | None, int | None]:
    if location:
        m = re.match(r"^(.*):(\d+)$", location)
        if m and m.group(1) not in ("<stdin>",):
            return m.group(1), int(m.group(2))
    return filename, None
