"""sparkpilot bench: the client's outputs parsed, physical bounds, intervals, cross-check, store, report."""

from __future__ import annotations

import json
import struct
from typing import Any
from pathlib import Path

import pytest

from sparkpilot.benchmark import bounds, expect, knowledge, profiles, serverside, stats, store
from sparkpilot.benchmark.client import Client, Load
from sparkpilot.benchmark.results import BenchOutputError, Row, parse_result_json, parse_summary
from sparkpilot.cli.main import main
from sparkpilot.models import resolve

DATA = Path(__file__).resolve().parents[1] / "data" / "bench"


def test_summary_of_a_real_gb10_run():
    row = parse_summary((DATA / "gb10_nemotron3_super_nvfp4_poisson.txt").read_text())
    assert (row.completed, row.failed, row.concurrency, row.request_rate) == (300, 0, 25, 1.5)
    assert row.output_throughput == pytest.approx(80.41)
    assert row.mean_tpot_ms == pytest.approx(237.06) and row.p99_ttft_ms == pytest.approx(69799.94)
    assert row.spec_decode_acceptance_length == pytest.approx(2.60)
    assert row.max_concurrent_requests == 28
    assert row.stream_decode_tok_s == pytest.approx(1000 / 237.06)


@pytest.mark.parametrize("text", ["", "hello", "Successful requests: 3\n", json.dumps({"a": 1}),
                                  "============ Serving Benchmark Result ============\nnothing here\n"])
def test_parsers_refuse_what_is_not_theirs(text):
    with pytest.raises(BenchOutputError):
        parse_summary(text)
    with pytest.raises(BenchOutputError):
        parse_result_json(text)


def test_bounds_of_gpt_oss_120b_hold_the_public_figures():
    gb10 = knowledge.hardware("gb10")
    model = resolve("openai/gpt-oss-120b", offline=True)
    one = bounds.for_model(model, 1, gb10)
    cap = one.stream_decode_tok_s()
    assert cap is not None
    # the verified single-Spark figure (58.82) and the TP=2 one (69.0) sit under their ceilings
    assert 58.82 < cap < 250
    assert 69.0 < bounds.for_model(model, 2, gb10).stream_decode_tok_s()
    assert one.compute_dtype == "fp4"


def _row(**kw) -> Row:
    base: dict[str, Any] = dict(profile="single", concurrency=1, completed=4, total_input_tokens=4 * 1024,
                total_output_tokens=4 * 128, output_throughput=55.0, mean_tpot_ms=17.5, mean_ttft_ms=400.0)
    base.update(kw)
    return Row(**base)


def test_an_impossible_row_is_rejected_and_a_real_one_is_not():
    gb10 = knowledge.hardware("gb10")
    model = resolve("openai/gpt-oss-120b", offline=True)
    b = bounds.for_model(model, 1, gb10)
    assert bounds.check(_row(), b, model) == []
    fabricated = bounds.check(_row(mean_tpot_ms=1.0, output_throughput=1000.0), b, model)
    assert any("memory-bandwidth bound" in p for p in fabricated)
    prefill = bounds.check(_row(mean_ttft_ms=0.01), b, model)
    assert any("compute bound" in p for p in prefill)


def test_speculative_steps_raise_the_decode_ceiling():
    gb10 = knowledge.hardware("gb10")
    model = resolve("openai/gpt-oss-120b", offline=True)
    b = bounds.for_model(model, 1, gb10)
    cap = b.stream_decode_tok_s()
    assert b.stream_decode_tok_s(tokens_per_step=2.6) == pytest.approx(cap * 2.6)


def test_interval_tightens_with_agreeing_runs():
    loose = stats.interval([50.0, 60.0])
    tight = stats.interval([58.0, 58.5, 58.2, 58.4])
    assert not loose.tight(0.05) and tight.tight(0.05)
    assert stats.interval([58.0]).n == 1 and not stats.interval([58.0]).tight(0.5)
    assert tight.mean == pytest.approx(58.275)


METRICS_A = """# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="m"} 1000.0
vllm:prompt_tokens_total{engine="0",model_name="m"} 5000.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 10.0
vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 2.0
"""


def test_cross_check_against_server_counters():
    before = serverside.parse_counters(METRICS_A)
    assert before["vllm:request_success_total"] == 12.0
    after = dict(before, **{"vllm:generation_tokens_total": 1512.0, "vllm:request_success_total": 16.0})
    good = serverside.cross_check(before, after, client_output_tokens=512, client_requests=4)
    assert good.agrees is True
    bad = serverside.cross_check(before, after, client_output_tokens=2048, client_requests=4)
    assert bad.agrees is False and "NOT" in bad.message()
    assert serverside.cross_check({}, {}, 512, 4).agrees is None


def test_client_argv_runs_in_the_deployment_image_offline():
    client = Client(base_url="http://127.0.0.1:8000", model="m", tokenizer="/models/m", image="img:1",
                    mounts=["/hf:/root/.cache/huggingface"])
    argv = client.argv(Load("sweep", 1024, 128, 16, concurrency=8), "r.json")
    assert argv[:2] == ["docker", "run"] and "HF_HUB_OFFLINE=1" in argv
    assert argv[argv.index("--entrypoint") + 1] == "vllm" and "img:1" in argv
    tail = argv[argv.index("img:1") + 1:]
    assert tail[:2] == ["bench", "serve"] and tail[tail.index("--max-concurrency") + 1] == "8"
    assert "--ignore-eos" in tail and "--save-result" in tail
    poisson = client.argv(Load("poisson", 64, 16, 8, request_rate=2.0, goodput=("ttft:2000", "tpot:100")), "p.json")
    assert poisson[poisson.index("--request-rate") + 1] == "2" and "--goodput" in poisson
    local = Client(base_url="http://x:1", model="m", tokenizer="m").argv(Load("single", 8, 8, 2, concurrency=1), "s")
    assert local[:3] == ["vllm", "bench", "serve"]


def test_profiles():
    sweep = profiles.loads("sweep", profiles.Shape(max_concurrency=8))
    assert [ld.concurrency for ld in sweep] == [1, 2, 4, 8]
    depth = profiles.loads("depth", profiles.Shape(max_model_len=8192))
    assert [ld.prefix_len for ld in depth] == [0, 4096]
    with pytest.raises(Exception, match="unknown profile"):
        profiles.loads("fastest", profiles.Shape())


def test_public_comparison_names_its_source():
    model = resolve("openai/gpt-oss-120b", offline=True)
    b = bounds.for_model(model, 1, knowledge.hardware("gb10"))
    comps = expect.compare("openai/gpt-oss-120b", 1, [("single", 1, 40.0, 40.0)], b)
    against = {c.against for c in comps}
    assert "bandwidth bound" in against and "gpt-oss-120b-1-c1-arena" in against
    arena = next(c for c in comps if c.against == "gpt-oss-120b-1-c1-arena")
    assert "below it" in arena.verdict() and "spark-arena" in arena.source


def test_gap_is_explained_by_the_running_launch():
    causes = expect.causes(["vllm", "serve", "openai/gpt-oss-120b", "--enforce-eager"], {}, 1)
    assert any(c["rule"] == "enforce-eager" for c in causes)


def _doc(host: str, rid: str, tok_s: float) -> dict:
    row = _row(output_throughput=tok_s).to_dict()
    return {"schema": 1, "id": rid, "key": {"host": host, "deployment": "vllm"}, "model": "m", "nodes": 1,
            "client": "vllm bench serve", "envelope": {"deployment": {"image": "img", "argv": []}, "hardware": "gb10"},
            "loads": [{"label": "single-c1", "concurrency": 1, "rows": [row], "checks": [],
                       "output_tok_s": stats.interval([tok_s, tok_s + 1]).to_dict(),
                       "stream_decode_tok_s": stats.interval([tok_s]).to_dict(), "tight": True}],
            "comparisons": [], "causes": []}


def test_store_keys_runs_by_host(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    a = store.save(_doc("me@spark-1", "20261206T100000", 50.0))
    store.save(_doc("me@spark-2", "20261206T110000", 60.0))
    assert "spark-1" in str(a)
    assert store.load("20261206T100000")["key"]["host"] == "me@spark-1"
    assert store.load("me@spark-2/vllm")["id"] == "20261206T110000"
    with pytest.raises(Exception, match="no benchmark run"):
        store.load("me@spark-3/vllm")


def test_compare_and_report_files(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    store.save(_doc("local", "20261206T100000", 50.0))
    store.save(_doc("local2", "20261206T110000", 80.0))
    out = tmp_path / "rep"
    rc = main(["bench", "--compare", "20261206T100000", "20261206T110000", "--report", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "local / vllm" in text and "local2 / vllm" in text
    png = (out / "throughput.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 300 and height > 200
    page = (out / "index.html").read_text()
    assert "throughput.png" in page and "20261206T110000" in page


@pytest.mark.parametrize("argv,needle", [
    (["bench"], "--container"),
    (["bench", "--endpoint", "http://x", "--min-runs", "5", "--max-runs", "2"], "--min-runs"),
    (["bench", "--endpoint", "http://x", "--target-ci", "2"], "--target-ci"),
    (["bench", "--compare", "nope-run"], "no benchmark run"),
    (["bench", "--endpoint", "http://x", "--rates", "a,b"], "numbers"),
])
def test_bad_input_is_one_line_exit_2(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_real_result_file_of_the_cpu_engine_and_its_metrics_agree():
    """Recorded from `vllm bench serve` against the simulated cluster's real vLLM (SOURCES.md)."""
    row = parse_result_json((DATA / "sim_cpu_ok_result.json").read_text(), profile="sweep")
    assert (row.completed, row.failed, row.concurrency) == (4, 0, 2)
    assert row.total_output_tokens == 32 and row.total_input_tokens == 128
    assert row.output_throughput and row.mean_tpot_ms and row.request_rate is None  # "inf": as fast as possible
    text = parse_summary((DATA / "sim_cpu_ok_summary.txt").read_text())
    assert text.completed == row.completed and text.output_throughput == pytest.approx(row.output_throughput, abs=0.01)
    before = serverside.parse_counters((DATA / "sim_cpu_metrics_before.txt").read_text())
    after = serverside.parse_counters((DATA / "sim_cpu_metrics_after.txt").read_text())
    check = serverside.cross_check(before, after, row.total_output_tokens, row.completed)
    assert check.agrees is True
    assert (check.generation_tokens, check.prompt_tokens, check.requests) == (32.0, 128.0, 4.0)


class _Recorded:
    """A runner whose host answers with the recorded all-failed run (the client still exits 0)."""

    name = "node"

    def __init__(self, result: str):
        self.result = result

    def run(self, argv, timeout=10.0):
        from sparkpilot.transport.base import CommandResult

        if argv[0] == "cat":
            return CommandResult(0, self.result, "", 0.0)
        return CommandResult(0, "", "", 0.0)

    def close(self):
        pass


def test_a_run_where_every_request_failed_is_an_error_not_a_zero():
    result = (DATA / "sim_cpu_all_failed_result.json").read_text()
    row = parse_result_json(result)
    assert (row.completed, row.failed) == (0, 4)
    client = Client(base_url="http://127.0.0.1:8000", model="m", tokenizer="m", image="img")
    with pytest.raises(Exception, match="completed no request"):
        client.run(_Recorded(result), Load("single", 32, 8, 4, concurrency=1), "x.json", timeout=60)


def test_a_deployment_up_started_is_found_with_its_plan(tmp_path, monkeypatch):
    from sparkpilot.benchmark import target
    from sparkpilot.launcher import state

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    state.save("qwen", {"name": "qwen", "plan": {"model": "Qwen/Qwen3-32B", "max_concurrency": 12},
                        "hosts": ["me@spark-1", "me@spark-2"]})
    dep = target.deployed("qwen")
    assert (dep.host, dep.container, dep.nodes, dep.max_concurrency) == ("me@spark-1", "sparkpilot-qwen", 2, 12)
    with pytest.raises(Exception, match="no deployment `other`"):
        target.deployed("other")
    assert main(["bench", "--deployment", "qwen", "--host", "x"]) == 2
