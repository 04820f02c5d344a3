"""Each lint rule: launches that must fire it and launches that must not (tests/data/lint/<rule>/).

A case file is a launch with header comments: `# source:` (where it comes from), optionally
`# lint: ARGS` (sparkpilot lint options) and `# expect: severity=LEVEL` for fire_ cases.
"""

from __future__ import annotations

import shlex
from typing import Any
from pathlib import Path

import pytest

from sparkpilot.rules.lint import lint_launch
from sparkpilot.rules.modelfacts import parse_model_info
from sparkpilot.rules.registry import RULES
from sparkpilot.vllm.parse import parse_text

DATA = Path(__file__).resolve().parent.parent / "data" / "lint"
CASES = sorted(p for p in DATA.glob("*/*") if p.parent.name != "real" and p.name.startswith(("fire_", "pass_")))


def _directives(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("# lint:"):
            out["lint"] = line.split(":", 1)[1].strip()
        elif line.startswith("# expect:"):
            out["expect"] = line.split(":", 1)[1].strip()
        elif line.startswith("# source:"):
            out["source"] = line.split(":", 1)[1].strip()
    return out


def run_case(path: Path):
    text = path.read_text()
    d = _directives(text)
    opts = shlex.split(d.get("lint", ""))
    kw: dict[str, Any] = {}
    for i, o in enumerate(opts):
        if o == "--nodes":
            kw["nodes"] = int(opts[i + 1])
        elif o == "--stack":
            kw["stack"] = opts[i + 1]
        elif o == "--model-info":
            kw["model_info"] = parse_model_info(opts[i + 1])
    spec = parse_text(text, str(path))
    return d, lint_launch(spec, **kw)


def test_every_rule_has_fire_and_pass_cases():
    for _, name, _ in RULES:
        files = [p.name for p in (DATA / name).iterdir()]
        assert any(f.startswith("fire_") for f in files), name
        assert any(f.startswith("pass_") for f in files), name


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_case(path: Path):
    rule = path.parent.name
    d, findings = run_case(path)
    assert d.get("source"), "every case names its source"
    hits = [f for f in findings if f.rule == rule]
    if path.name.startswith("fire_"):
        assert hits, f"{rule} did not fire; got {[f.rule for f in findings]}"
        for f in hits:
            assert f.id.startswith("SPL") and f.message and f.fix and f.evidence
        if "expect" in d:
            want = dict(kv.split("=", 1) for kv in d["expect"].split())
            assert want["severity"] in {f.severity for f in hits}, [(f.severity, f.message) for f in hits]
    else:
        assert not hits, [f.message for f in hits]


def test_rules_apply_only_to_stacks_they_cover():
    from sparkpilot.rules import stacks

    ngc_0111 = stacks.get("ngc-26.01")
    assert stacks.applies({"stacks": "all", "vllm": "any"}, ngc_0111)
    assert not stacks.applies({"stacks": "all", "vllm": ">=0.17.1"}, ngc_0111)
    assert stacks.applies({"stacks": ["ngc"], "vllm": ">=0.11.1,<0.20"}, ngc_0111)
    assert not stacks.applies({"stacks": ["eugr"]}, ngc_0111)
    # the knowledge base's own entries all name their stacks and versions
    from sparkpilot.rules.kb import rules

    for entry in rules():
        assert {"stacks", "vllm", "driver"} <= set(entry["applies_to"]), entry["name"]
        assert entry["severity"] in ("error", "warning", "info")
        assert {"summary", "why", "example", "fix", "evidence"} <= set(entry), entry["name"]


def test_stack_from_image():
    from sparkpilot.rules import stacks

    assert stacks.resolve(None, "nvcr.io/nvidia/vllm:26.03-py3")[0]["vllm"] == "0.17.1"
    assert stacks.resolve(None, "vllm/vllm-openai:v0.20.1")[0]["vllm"] == "0.20.1"
    assert stacks.resolve(None, "vllm-node")[0]["name"] == "eugr"
    assert stacks.resolve(None, None)[0]["name"] == "ngc-26.04"
    assert stacks.resolve("ngc-26.03", "vllm-node")[0]["name"] == "ngc-26.03"
