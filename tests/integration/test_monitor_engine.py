"""watch and exporter on a node that serves a REAL vLLM (the CPU build, tests/sim engine fixture):
vLLM's own /metrics read on the node through the sampler stream, tokens per second and latency
quantiles from real requests, and the families passed through by the exporter with node labels."""

from __future__ import annotations

import threading
import time

import pytest

from sparkpilot.monitor import vllm
from sparkpilot.monitor.collector import Collector, NodeTarget
from sparkpilot.transport import connect

pytestmark = pytest.mark.slow


def test_watch_reads_a_real_vllm_and_the_exporter_passes_it_through(sim_engine, monkeypatch):
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from sparkpilot.monitor import exporter

    for k, v in sim_engine.cluster.env().items():
        monkeypatch.setenv(k, v)
    node = sim_engine.node
    runner = connect(node.ssh_spec)
    raw = runner.run(["curl", "-s", "-m", "5", "http://127.0.0.1:8000/metrics"], timeout=20)
    page = vllm.parse(raw.stdout)
    assert page.types.get("vllm:kv_cache_usage_perc") == "gauge"          # vLLM's own names, from the engine
    assert page.types.get("vllm:time_to_first_token_seconds") == "histogram"
    c = Collector([NodeTarget(node.name, "head", runner, vllm_port=8000)], interval=1.0).start()
    try:
        assert c.wait(samples=2, timeout=60)
        done = threading.Event()

        def load() -> None:
            for i in range(4):
                sim_engine.engines[0].chat(f"say something {i}", max_tokens=16)
            done.set()

        threading.Thread(target=load, daemon=True).start()
        assert done.wait(240)
        time.sleep(3)
        hist = c.history(node.name)
        text = generate_latest(exporter.registry(c)).decode()
    finally:
        c.stop()
        runner.close()
    last = hist[-1].metrics
    assert last["vllm_up"] == 1.0 and last["vllm_kv_cache_usage"] is not None and last["vllm_waiting"] == 0
    assert max(h.metrics["vllm_gen_tokens_per_s"] or 0 for h in hist) > 0
    assert last["vllm_ttft_p50_s"] is not None and last["vllm_itl_p50_s"] is not None
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    gen = fams["vllm:generation_tokens"].samples[0]
    assert gen.labels["node"] == node.name and gen.labels["role"] == "head" and gen.value >= 4
