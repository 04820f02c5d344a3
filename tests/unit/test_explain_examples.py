"""Issue 8: `explain` shows, for every lint rule, a good example that would start: lint finds nothing at
error or warning level in it, the rule itself stays quiet, and the model fits on the Sparks the example
runs on (planned from the catalog). Each bad example fires its rule."""

from __future__ import annotations

import pytest

from sparkpilot import models
from sparkpilot.cli.main import main
from sparkpilot.planner import PlanRequest, plan
from sparkpilot.rules.kb import rules
from sparkpilot.rules.lint import lint_launch
from sparkpilot.vllm.parse import parse_text

RULES = rules()


def _launch(text: str):
    return parse_text(text.split("   #", maxsplit=1)[0])   # the examples may say where they run after `   #`


@pytest.mark.parametrize("entry", RULES, ids=[r["name"] for r in RULES])
def test_good_example_would_start(entry, capsys):
    good = entry["example"]["good"]
    spec = _launch(good)
    found = lint_launch(spec)
    assert not [(f.rule, f.severity, f.message) for f in found if f.severity in ("error", "warning")]
    assert not [f for f in found if f.rule == entry["name"] and f.severity != "info"]
    info = models.lookup(spec.model)
    assert info is not None, f"{spec.model}: the example's model is in the catalog"
    nodes = max(1, spec.tensor_parallel) * max(1, spec.pipeline_parallel)
    assert plan(PlanRequest(spec.model, nodes=nodes), info).fits
    assert main(["explain", entry["name"]]) == 0
    assert good in capsys.readouterr().out


@pytest.mark.parametrize("entry", RULES, ids=[r["name"] for r in RULES])
def test_bad_example_fires_its_rule(entry):
    found = lint_launch(_launch(entry["example"]["bad"]))
    assert entry["name"] in {f.rule for f in found}
