"""plan's text as a new owner of two Sparks reads it: every <...> to fill is listed, and the start order."""

from __future__ import annotations

import json
import re

from sparkpilot.cli.main import main


def test_every_placeholder_in_the_commands_is_listed_once_per_node(capsys):
    assert main(["plan", "Qwen/Qwen3-235B-A22B-GPTQ-Int4", "--nodes", "2", "--offline"]) == 0
    out = capsys.readouterr().out
    listed = out.split("placeholders to fill (<...> values): ")[1].splitlines()[0]
    per_node = dict(part.split(": ", 1) for part in listed.split("; "))
    assert set(per_node) == {"spark-1", "spark-2"}
    commands, current = [], None    # each `docker run` is printed wrapped, one option a line
    for line in out.splitlines():
        if line.startswith("  docker run"):
            current = []
        if current is not None:
            current.append(line)
            if not line.endswith("\\"):
                commands.append(" ".join(current))
                current = None
    assert len(commands) == 2
    for node, line in zip(("spark-1", "spark-2"), commands, strict=False):
        used = set(re.findall(r"<([A-Z][A-Z0-9_]*)>", line))
        assert used == set(per_node[node].split(", ")), node
    assert "HEAD_IP" in per_node["spark-2"]   # the worker's `ray start --address=<HEAD_IP>:6379` (was not listed)


def test_start_order_is_said_for_several_nodes_only(capsys):
    assert main(["plan", "openai/gpt-oss-120b", "--nodes", "2", "--offline"]) == 0
    assert "start spark-1 (head) first" in capsys.readouterr().out
    assert main(["plan", "openai/gpt-oss-120b", "--offline"]) == 0
    assert "(head) first" not in capsys.readouterr().out


def test_a_plan_for_an_old_stack_writes_what_its_vllm_has(capsys):
    """plan --stack ngc-26.01 used to write --attention-backend / --moe-backend, which vLLM 0.11.1 refuses;
    now it writes the environment variable that version has, or leaves the setting out (issue 8, point 6)."""
    assert main(["plan", "Qwen/Qwen3-30B-A3B-FP8", "--stack", "ngc-26.01", "--offline", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    node = json.loads(out)["launch"]["nodes"][0]
    assert "--attention-backend" not in node["argv"] and "--moe-backend" not in node["argv"]
    assert node["env"]["VLLM_ATTENTION_BACKEND"] == "TRITON_ATTN" and err == ""
    assert main(["plan", "Qwen/Qwen3-30B-A3B-FP8", "--offline"]) == 0
    assert capsys.readouterr().err == ""


def test_does_not_fit_says_what_to_try_and_each_suggestion_fits(capsys):
    assert main(["plan", "zai-org/GLM-4.5-Air-FP8", "--offline", "--max-model-len", "32768"]) == 1
    out = capsys.readouterr().out
    tries = [line.split("try: sparkpilot ", 1)[1].split() for line in out.splitlines() if "try: sparkpilot " in line]
    assert len(tries) == 2   # more Sparks, or the largest context that fits on one
    assert "launch (" in out and "does not fit as planned" in out
    for argv in tries:
        assert main([*argv, "--offline"]) == 0, argv
        assert ": FITS" in capsys.readouterr().out.splitlines()[0]


def test_memory_gib_plans_count_gpus_not_sparks(capsys):
    assert main(["plan", "Qwen/Qwen3-32B", "--offline", "--memory-gib", "79.18", "--nodes", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Qwen/Qwen3-32B on 2 GPUs (") and "fewest GPUs that fit" in out
    assert "Spark" not in out.split("launch (")[0]


def test_the_hint_to_read_the_placeholders_names_the_model_and_every_node(capsys):
    assert main(["plan", "Qwen/Qwen3-32B", "--nodes", "3", "--offline"]) == 0
    out = capsys.readouterr().out
    assert ("run `sparkpilot plan Qwen/Qwen3-32B --host USER@SPARK1 --host USER@SPARK2 --host USER@SPARK3`"
            in out)
