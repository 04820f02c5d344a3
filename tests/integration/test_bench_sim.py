"""`sparkpilot bench` against the simulated cluster's real vLLM (its CPU build): the kept client
(`vllm bench serve`, inside the deployment's image on the node), a single run and a sweep, the
cross-check against the server's own /metrics, the envelope, a saved run, a comparison of one
node against the native TP=2 pair, and the report files opened.

The bounds are the simulated host's own (`--hardware measured`: torch in the engine's image), as
the GB10's sourced figures are on a Spark.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest

engine = pytest.importorskip("sim.engine", reason="the simulated vLLM engine (tests/sim/engine.py) is not here yet")
from sim import models  # type: ignore[attr-defined]  # noqa: E402
# sim_engine, sim_engine_pair: conftest.py's, shared with the session's other suites (importing them
# here would make this module's own session engines: extra starts)

pytestmark = pytest.mark.slow


def bench(running, tmp_path, *args, timeout=900):
    env = {**running.cluster.env(), "XDG_DATA_HOME": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "sparkpilot", "bench", "--host", running.node.ssh_spec,
                           "--container", running.engines[0].container, *args],
                          capture_output=True, text=True, env=env, timeout=timeout, check=False)


# each client run is a process that imports vLLM (seconds on a quiet CI core): keep the runs few
SMALL = ["--input-len", "32", "--output-len", "8", "--prompts", "4", "--min-runs", "2", "--max-runs", "2",
         "--hardware", "measured"]


def _model_dir() -> str:
    return str(models.ensure(["fixed-sentence"]) / "fixed-sentence")


def _check_run(doc: dict) -> None:
    assert doc["client"] == "vllm bench serve"
    dep = doc["envelope"]["deployment"]
    assert dep["image_id"] and dep["vllm_version"], dep
    assert "serve" in dep["argv"]
    assert doc["envelope"]["bounds"]["stream_decode_tok_s"] > 0
    for load in doc["loads"]:
        assert len(load["rows"]) == 2
        assert load["output_tok_s"]["n"] == len(load["rows"]) and load["output_tok_s"]["mean"] > 0
        for row, check in zip(load["rows"], load["checks"], strict=False):
            assert row["completed"] == 4 and row["failed"] == 0
            assert not [m for m in row["marks"] if m.startswith(("rejected", "metrics-mismatch"))], row["marks"]
            # the server's own counters saw exactly the client's tokens and requests
            cross = check["cross_check"]
            assert cross["agrees"] is True, cross
            assert cross["server_generation_tokens"] == row["total_output_tokens"] == 4 * 8
            assert cross["server_requests"] == 4
            assert check["host_before"]["page_cache_gib"] is not None


def test_single_and_sweep_then_compare_with_the_pair(sim_engine, sim_engine_pair, tmp_path):
    one = bench(sim_engine, tmp_path, "--profile", "sweep", "--max-concurrency", "2",
                "--model-info", _model_dir(), *SMALL, "--format", "json")
    assert one.returncode == 0, one.stderr[-2000:]
    doc = json.loads(one.stdout)
    assert [ld["label"] for ld in doc["loads"]] == ["sweep-in32-out8-c1", "sweep-in32-out8-c2"]
    _check_run(doc)
    assert doc["nodes"] == 1 and doc["key"]["host"] == sim_engine.node.ssh_spec

    two = bench(sim_engine_pair, tmp_path, "--profile", "single", "--no-warmup", "--model-info", _model_dir(),
                *SMALL)
    assert two.returncode == 0, two.stderr[-2000:]
    assert "vllm bench serve" in two.stdout and "saved " in two.stdout
    # progress was shown while it ran (plain lines when not on a terminal)
    assert "run 1/2" in two.stderr

    runs = sorted((tmp_path / "data" / "sparkpilot" / "bench").glob("*/*/*.json"))
    assert len(runs) == 2
    pair = json.loads(next(r for r in runs if r.read_text().count('"nodes": 2')).read_text())
    _check_run(pair)

    env = {**sim_engine.cluster.env(), "XDG_DATA_HOME": str(tmp_path / "data")}
    out = tmp_path / "report"
    cmp = subprocess.run([sys.executable, "-m", "sparkpilot", "bench", "--compare", *map(str, runs),
                          "--report", str(out)], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert cmp.returncode == 0, cmp.stderr
    assert "nodes 1" in cmp.stdout and "nodes 2" in cmp.stdout
    png = (out / "throughput.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] > 300
    assert (out / "latency.png").stat().st_size > 1000
    page = (out / "index.html").read_text()
    assert pair["id"] in page and doc["id"] in page


def test_a_missing_container_is_one_line(sim_engine, tmp_path):
    env = {**sim_engine.cluster.env(), "XDG_DATA_HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-m", "sparkpilot", "bench", "--host", sim_engine.node.ssh_spec,
                          "--container", "nope"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "no container `nope`" in res.stderr


def test_depth_and_poisson_profiles_run_on_the_real_client(sim_engine, tmp_path):
    """The prefix-depth profile (--random-prefix-len, prefix caching) and the open-loop one
    (--request-rate, --goodput) are accepted by the real client and give rows; one run each."""
    res = bench(sim_engine, tmp_path, "--profile", "depth", "--depths", "64", "--profile", "poisson", "--rates", "4",
                "--input-len", "32", "--output-len", "8", "--prompts", "4", "--min-runs", "1", "--max-runs", "1",
                "--no-warmup", "--no-save", "--format", "json")
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads(res.stdout)
    assert [ld["label"] for ld in doc["loads"]] == ["depth-in32-out8-depth64-c1", "poisson-in32-out8-rate4"]
    depth, poisson = doc["loads"]
    assert depth["prefix_len"] == 64 and depth["rows"][0]["completed"] == 4
    # prompts carry the 64-token shared prefix: the server counted them
    assert depth["checks"][0]["cross_check"]["server_prompt_tokens"] >= 4 * (32 + 64) * 0.9
    row = poisson["rows"][0]
    assert poisson["request_rate"] == 4 and row["completed"] == 4 and row["request_goodput"] is not None
    assert not (tmp_path / "data" / "sparkpilot").exists()   # --no-save
