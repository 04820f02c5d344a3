"""Real Spark launches (tests/data/lint/real, sources in each file): lint's findings, read and checked
by hand, stay as recorded in expected.json (rule:severity per launch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkpilot.rules.lint import lint_launch
from sparkpilot.vllm.parse import parse_text

REAL = Path(__file__).resolve().parent.parent / "data" / "lint" / "real"
EXPECTED = json.loads((REAL / "expected.json").read_text())


def test_at_least_twenty_real_launches():
    assert len(EXPECTED) >= 20
    for name in EXPECTED:
        head = (REAL / name).read_text().splitlines()[:3]
        assert any("source:" in line for line in head), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_launch(name):
    path = REAL / name
    findings = lint_launch(parse_text(path.read_text(), str(path)))
    assert sorted({f"{f.rule}:{f.severity}" for f in findings}) == EXPECTED[name]["findings"]
    for f in findings:
        assert f.location is None or f.location.startswith(str(path)) or f.location == str(path)
