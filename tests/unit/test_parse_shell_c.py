"""A launch given as `[VAR=x ...] bash -c 'ray start ... && exec vllm serve ...'`: the form of a
plan's per-node argv (and of many hand-written container commands)."""

from sparkpilot.rules.lint import lint_launch
from sparkpilot.vllm.parse import parse_argv


def test_bash_c_script_with_env_prefix_is_parsed():
    spec = parse_argv(["RAY_memory_monitor_refresh_ms=0", "NCCL_IB_GID_INDEX=4", "bash", "-c",
                       "ray start --head --port=6379 && exec vllm serve Qwen/Qwen3-32B -tp 2 --enforce-eager"])
    assert spec.model == "Qwen/Qwen3-32B"
    assert spec.options["tensor_parallel_size"] in (2, "2")
    assert spec.env["NCCL_IB_GID_INDEX"] == "4" and spec.env["RAY_memory_monitor_refresh_ms"] == "0"
    names = {f.rule for f in lint_launch(spec, nodes=2, stack="eugr")}   # a stack whose NCCL is not known
    assert "enforce-eager" in names
    assert "ray-memory-monitor" not in names and "nccl-gid-index" not in names
    # on NGC 26.04 (NCCL 2.21+) the pinned index itself is the finding (issue 8, point 2)
    assert "nccl-gid-index" in {f.rule for f in lint_launch(spec, nodes=2)}


def test_plain_bash_c_without_vllm_is_still_bad_input():
    import pytest

    from sparkpilot.errors import UsageError

    with pytest.raises(UsageError):
        parse_argv(["bash", "-c", "ray start --block --address=10.0.0.1:6379"])
