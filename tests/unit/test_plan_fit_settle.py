"""With no --max-model-len, plan takes the largest context that fits at that context's own default
utilisation (0.87 below 64K, 0.85 above): it must not stay at the length found at the other one."""

import json

from sparkpilot.cli.main import main


def test_lowered_context_settles_at_the_largest_that_fits(capsys):
    assert main(["plan", "zai-org/GLM-4.5-Air-FP8", "--offline", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["fits"] is True
    assert plan["max_model_len"] == plan["max_model_len_fit"] // 1024 * 1024
    assert plan["max_model_len"] > 16384
    assert plan["gpu_memory_utilization"] == 0.87
