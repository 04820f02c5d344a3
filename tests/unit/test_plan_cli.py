"""`sparkpilot plan` as a user runs it: JSON contract, exit codes, bad input, --output, start-up estimate."""

from __future__ import annotations

import json

import pytest

from sparkpilot import models
from sparkpilot.cli.main import main
from sparkpilot.planner.eta import PHASES, startup_eta
from sparkpilot.timescale import time_scale

KEYS = ["model", "nodes", "tensor_parallel_size", "pipeline_parallel_size", "executor", "gpu_memory_utilization",
        "max_model_len", "max_model_len_fit", "kv_cache_dtype", "weights_gib_per_gpu", "kv_cache_gib_per_gpu",
        "kv_cache_tokens", "max_concurrency", "activation_gib", "cudagraph_gib", "fits", "reason", "min_nodes",
        "startup_eta_s", "launch"]


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    rc = main(["plan", *argv, "--format", "json"])
    return rc, json.loads(capsys.readouterr().out)


def test_readme_main_job_json_contract(capsys):
    rc, data = run_json(capsys, "openai/gpt-oss-120b", "--offline")
    assert rc == 0
    assert list(data) == KEYS
    assert data["fits"] is True and data["nodes"] == 1 and data["executor"] == "single"
    assert set(data["startup_eta_s"]) == {*PHASES, "total"}
    assert set(data["launch"]) == {"image", "executor", "nodes"}
    node = data["launch"]["nodes"][0]
    assert set(node) == {"name", "role", "argv", "env", "mounts", "docker_run"}
    assert 0 < data["kv_cache_gib_per_gpu"] < 121.69 and data["kv_cache_tokens"] > 100_000


def test_text_output_names_the_verdict_and_the_launch(capsys):
    assert main(["plan", "openai/gpt-oss-120b", "--nodes", "2"]) == 0
    out = capsys.readouterr().out
    assert "FITS" in out and "docker run" in out and "placeholders to fill" in out
    assert "start-up estimate" in out


def test_hf_token_value_never_printed(capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secretvalue123")
    assert main(["plan", "Qwen/Qwen3-8B", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "hf_secretvalue123" not in out and "-e HF_TOKEN " in out


def test_unknown_model_offline_exit_2_with_closest(capsys):
    rc = main(["plan", "Qwen/Qwen3-33B", "--offline"])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "Qwen/Qwen3-32B" in err


def test_model_that_cannot_fit_exit_1_with_min_nodes(capsys):
    if models.lookup("meta-llama/Llama-3.3-70B-Instruct") is None:
        pytest.skip("Llama-3.3-70B-Instruct not in the catalog")
    rc, data = run_json(capsys, "meta-llama/Llama-3.3-70B-Instruct", "--offline")
    assert rc == 1 and data["fits"] is False
    assert "weights" in data["reason"] and data["min_nodes"] == 2


def test_output_file_is_the_json(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", "Qwen/Qwen3-8B", "--nodes", "2", "--output", str(out)]) == 0
    capsys.readouterr()
    data = json.loads(out.read_text())
    # the default stack (NGC 26.04) does not publish whether its image has Ray: vLLM's native mode (issue 8)
    assert data["nodes"] == 2 and data["launch"]["executor"] == "native"


@pytest.mark.parametrize("argv,needle", [
    (["--nodes", "0"], "--nodes"),
    (["--gpu-memory-utilization", "0.95"], "0.90"),
    (["--nodes", "2", "--tp", "4"], "--tp"),
    (["--max-model-len", "-5"], "--max-model-len"),
    (["--stack", "nope"], "unknown stack"),
    (["--executor", "mpi"], "invalid choice"),
])
def test_bad_input_one_line_exit_2(capsys, argv, needle):
    rc = main(["plan", "Qwen/Qwen3-8B", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_other_gpu_with_memory_gib(capsys):
    rc, data = run_json(capsys, "Qwen/Qwen3-32B", "--memory-gib", "95.01", "--nodes", "2",
                        "--gpu-memory-utilization", "0.426", "--max-model-len", "32768", "--kv-cache-dtype", "auto")
    assert rc == 0 and data["tensor_parallel_size"] == 2
    assert 60_000 < data["kv_cache_tokens"] < 75_000  # vLLM printed 67,296 (bench/data/memory/108)


def test_startup_estimate_matches_the_reference_table():
    two = startup_eta(118e9 // 2, 2, "ray", environ={})
    assert two["ray_cluster"] == 120 and two["weight_loading"] == pytest.approx(420, rel=0.01)
    assert two["memory_profiling"] + two["cudagraph_capture"] == pytest.approx(300, rel=0.01)
    assert two["total"] == pytest.approx(15 * 60, rel=0.05)
    one = startup_eta(65e9, 1, "single", environ={})
    assert one["ray_cluster"] == 0 and one["total"] == pytest.approx(8 * 60, rel=0.1)
    assert startup_eta(8e9, 1, "single", environ={})["total"] < one["total"]


def test_time_scale_applies_to_every_phase():
    base = startup_eta(60e9, 2, "ray", environ={})
    fast = startup_eta(60e9, 2, "ray", environ={"SPARKPILOT_TIME_SCALE": "0.01"})
    assert fast["total"] == pytest.approx(base["total"] * 0.01, rel=0.01)
    assert time_scale({"SPARKPILOT_TIME_SCALE": "nonsense"}) == 1.0
    assert time_scale({"SPARKPILOT_TIME_SCALE": "-2"}) == 1.0
    assert time_scale({}) == 1.0


def test_plan_with_recorded_hosts_fills_the_interconnect(capsys):
    from sparkpilot.transport import replay

    if not (replay.REPLAYS / "pair").is_dir():
        pytest.skip("no replay://pair recording")
    rc, data = run_json(capsys, "Qwen/Qwen3-32B", "--host", "replay://pair")
    assert rc == 0 and data["nodes"] == 2
    envs = [n["env"] for n in data["launch"]["nodes"]]
    assert all(not v.startswith("<") for env in envs for v in env.values())
    assert envs[0]["VLLM_HOST_IP"] != envs[1]["VLLM_HOST_IP"]


def test_plan_warns_when_the_page_cache_leaves_too_little_free(capsys):
    from sparkpilot.transport import replay

    if not (replay.REPLAYS / "single").is_dir():
        pytest.skip("no replay://single recording")
    assert main(["plan", "Qwen/Qwen3-8B", "--host", "replay://single"]) == 0
    out = capsys.readouterr().out
    # the recording's /proc/meminfo has far less free than the budget (its page cache holds the rest)
    assert "drop the page cache" in out and "drop_caches" in out


def test_speculative_tokens_cost_kv_and_reach_the_launch(capsys):
    args = ("Qwen/Qwen3.6-35B-A3B", "--offline", "--max-model-len", "262144")
    rc, plain = run_json(capsys, *args)
    rc2, mtp = run_json(capsys, *args, "--speculative-tokens", "3")
    assert rc == rc2 == 0
    # the drafter's weights and KV layer, and 3 more state pages per request, leave fewer tokens
    assert mtp["weights_gib_per_gpu"] > plain["weights_gib_per_gpu"]
    assert mtp["max_concurrency"] < plain["max_concurrency"]
    argv = mtp["launch"]["nodes"][0]["argv"]
    assert argv[argv.index("--speculative-config") + 1] == '{"method":"mtp","num_speculative_tokens":3}'
    assert "--speculative-config" not in plain["launch"]["nodes"][0]["argv"]
    assert main(["plan", "Qwen/Qwen3-8B", "--offline", "--speculative-tokens", "2"]) == 2
