"""The accuracy bench (bench/plan_accuracy.py) holds its targets on the cases it can replay."""

from __future__ import annotations

import importlib.util
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "plan_accuracy.py"


def run_bench() -> dict:
    spec = importlib.util.spec_from_file_location("plan_accuracy", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert mod.main(["--json", "--sparkrun", ""]) == 0
    return json.loads(buf.getvalue())


def test_targets_hold_on_current_vllm():
    data = run_bench()
    s = data["summary"]
    assert s["weights_current"]["n"] >= 4 and s["tokens_current"]["n"] >= 4
    assert s["weights_current"]["median"] <= 0.02 and s["weights_current"]["p90"] <= 0.05
    assert s["tokens_current"]["median"] <= 0.08 and s["tokens_current"]["p90"] <= 0.15
    assert s["weights_all"]["median"] <= 0.02


def test_fit_verdicts_right_where_the_margin_is_clear():
    rows = run_bench()["rows"]
    wrong = [r for r in rows if r["obs"]["fits"] is not None and r["fits"] != r["obs"]["fits"]]
    # a miss is allowed only where vLLM's own margin is within the KV error target (8%), or on 102,
    # whose source figures do not add up (71.26 - 64.38 - 7.38 - 0.13 < 3.33 GiB of KV)
    assert [r["id"] for r in wrong if r["id"] != "102" and not (r["margin"] is not None and abs(r["margin"]) <= 0.08)] == []
