"""plan: bad numbers a user can type are one line and exit 2, never a hang or an internal error."""

from __future__ import annotations


import pytest

from sparkpilot.cli.main import main


@pytest.mark.parametrize("argv, words", [
    (["--nodes", "100000000000"], "--nodes 100000000000 is too large"),   # used to hang
    (["--tp", "1000"], "--tp 1000 is too large"),
    (["--memory-gib", "nan"], "--memory-gib must be a number"),           # used to be an internal error
    (["--memory-gib", "inf"], "--memory-gib must be a number"),
    (["--memory-gib", "1e30"], "--memory-gib 1e+30 is too large"),
    (["--max-model-len", "99999999999999999999"], "--max-model-len 99999999999999999999 is too large"),
    (["--quantization", "bogus"], "unknown --quantization 'bogus'"),     # used to plan silently, exit 0
    (["--speculative-tokens", "100000"], "--speculative-tokens 100000 is too large"),
])
def test_bad_numbers_and_names_are_usage_errors(capsys, argv, words):
    rc = main(["plan", "openai/gpt-oss-120b", "--offline", *argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert words in err and err.count("\n") == 1


def test_a_real_quantization_method_is_accepted(capsys):
    assert main(["plan", "Qwen/Qwen3-32B", "--offline", "--quantization", "fp8"]) in (0, 1)
    assert "error" not in capsys.readouterr().err


# ---------------------------------------------------------------- lint: a word where vLLM wants a number
def test_lint_flags_a_word_given_to_a_number_flag(capsys):
    from sparkpilot.cli.main import main as cli

    rc = cli(["lint", "--format", "json", "--", "vllm", "serve", "Qwen/Qwen3-8B",
              "--gpu-memory-utilization", "abc", "--tensor-parallel-size", "two",
              "--max-model-len", "32k", "--port", "$PORT"])
    import json

    findings = json.loads(capsys.readouterr().out)["findings"]
    bad = [f["message"] for f in findings if f["rule"] == "unknown-flag"]
    assert rc == 1
    assert any(m.startswith("--gpu-memory-utilization abc:") and "a number" in m for m in bad)
    assert any(m.startswith("--tensor-parallel-size two:") and "an integer" in m for m in bad)
    assert len(bad) == 2   # 32k (vLLM's human-readable int) and $PORT (a variable) are fine


# ---------------------------------------------------------------- doctor / capture: timeouts and GID index
@pytest.mark.parametrize("argv", [
    ["capture", "--timeout", "-1"],          # used to run with a negative timeout, exit 0
    ["capture", "--timeout", "nan"],
    ["doctor", "--timeout", "nan"],
    ["doctor", "--timeout", "inf"],
    ["doctor", "--host", "replay://single", "--gid-index", "-1"],   # used to run, no row -1 exists
])
def test_doctor_and_capture_refuse_bad_numbers(capsys, tmp_path, argv):
    rc = main([*argv, *(["--out", str(tmp_path / "cap")] if argv[0] == "capture" else [])])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "cap").exists()
