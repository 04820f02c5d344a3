"""The Grafana dashboard (built on the exporter's metrics and vLLM's own names) and the Prometheus
alerting rules (from knowledge/monitor.yaml). Copies are kept in the repo under monitoring/ and a
test checks they match what this module generates."""

from __future__ import annotations

import json
from typing import Any

NODE = 'node=~"$node"'
# (title, unit, [(expr, legend)]) in rows of two panels
PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("GPU temperature (normal under load: 60-75 C)", "celsius",
     [(f"sparkpilot_gpu_temperature_celsius{{{NODE}}}", "{{node}} GPU")]),
    ("CPU / SoC temperature (normal under load: 50-65 C)", "celsius",
     [(f"sparkpilot_cpu_temperature_celsius{{{NODE}}}", "{{node}} CPU")]),
    ("GPU SM clock (degraded power state: 500-850 MHz)", "MHz",
     [(f"sparkpilot_gpu_sm_clock_mhz{{{NODE}}}", "{{node}}"), (f"sparkpilot_gpu_sm_clock_max_mhz{{{NODE}}}", "{{node}} max")]),
    ("GPU power and utilisation", "short",
     [(f"sparkpilot_gpu_power_watts{{{NODE}}}", "{{node}} W"), (f"sparkpilot_gpu_utilization_percent{{{NODE}}}", "{{node}} %")]),
    ("Clock event reasons active", "short",
     [(f"sparkpilot_gpu_clock_event_active{{{NODE}}}", "{{node}} {{reason}}")]),
    ("Unified memory (MemAvailable, page cache)", "percentunit",
     [(f"sparkpilot_memory_available_ratio{{{NODE}}}", "{{node}} available"),
      (f"sparkpilot_page_cache_ratio{{{NODE}}}", "{{node}} page cache")]),
    ("Memory held by CUDA processes (nvidia-smi per process; not MemTotal-MemAvailable)", "bytes",
     [(f"sparkpilot_cuda_process_memory_bytes{{{NODE}}}", "{{node}}")]),
    ("Memory pressure stall (/proc/pressure/memory)", "percent",
     [(f"sparkpilot_memory_pressure_some_percent{{{NODE}}}", "{{node}} some"),
      (f"sparkpilot_memory_pressure_full_percent{{{NODE}}}", "{{node}} full")]),
    ("QSFP throughput", "bps",
     [(f"sum by (node, direction) (rate(sparkpilot_qsfp_bytes_total{{{NODE}}}[1m])) * 8", "{{node}} {{direction}}")]),
    ("QSFP errors and drops", "short",
     [(f"sum by (node) (rate(sparkpilot_qsfp_errors_total{{{NODE}}}[5m]))", "{{node}}")]),
    ("RoCE throughput (port_xmit/rcv_data x 4 bytes)", "bps",
     [(f'sum by (node, counter) (rate(sparkpilot_rdma_counter_total{{{NODE},counter=~"port_(xmit|rcv)_data"}}[1m])) * 32',
       "{{node}} {{counter}}")]),
    ("RoCE port rate", "short",
     [(f"sparkpilot_rdma_port_rate_gbps{{{NODE}}}", "{{node}} {{device}}")]),
    ("vLLM tokens per second", "short",
     [(f"sum by (node) (rate(vllm:generation_tokens_total{{{NODE}}}[1m]))", "{{node}} generated"),
      (f"sum by (node) (rate(vllm:prompt_tokens_total{{{NODE}}}[1m]))", "{{node}} prompt")]),
    ("vLLM requests running / waiting", "short",
     [(f"sum by (node) (vllm:num_requests_running{{{NODE}}})", "{{node}} running"),
      (f"sum by (node) (vllm:num_requests_waiting{{{NODE}}})", "{{node}} waiting")]),
    ("vLLM KV cache usage", "percentunit",
     [(f"max by (node) (vllm:kv_cache_usage_perc{{{NODE}}})", "{{node}}")]),
    ("Time to first token", "s",
     [(f"histogram_quantile(0.5, sum by (le, node) "
        f"(rate(vllm:time_to_first_token_seconds_bucket{{{NODE}}}[5m])))", "{{node}} p50"),
      (f"histogram_quantile(0.99, sum by (le, node) "
        f"(rate(vllm:time_to_first_token_seconds_bucket{{{NODE}}}[5m])))", "{{node}} p99")]),
    ("Inter-token latency", "s",
     [(f"histogram_quantile(0.5, sum by (le, node) "
        f"(rate(vllm:inter_token_latency_seconds_bucket{{{NODE}}}[5m])))", "{{node}} p50"),
      (f"histogram_quantile(0.99, sum by (le, node) "
        f"(rate(vllm:inter_token_latency_seconds_bucket{{{NODE}}}[5m])))", "{{node}} p99")]),
    ("Speculative decoding acceptance", "percentunit",
     [((f"sum by (node) (rate(vllm:spec_decode_num_accepted_tokens_total{{{NODE}}}[5m])) / "
        f"sum by (node) (rate(vllm:spec_decode_num_draft_tokens_total{{{NODE}}}[5m]))"), "{{node}}")]),
    ("sparkpilot alerts firing (knowledge/monitor.yaml)", "short",
     [(f"sparkpilot_alert{{{NODE}}}", "{{node}} {{name}}")]),
    ("Sampler up / sample age", "short",
     [(f"sparkpilot_node_up{{{NODE}}}", "{{node}} up"), (f"sparkpilot_sample_age_seconds{{{NODE}}}", "{{node}} age s")]),
]
DS = {"type": "prometheus", "uid": "${datasource}"}


def dashboard() -> dict[str, Any]:
    panels = []
    for i, (title, unit, targets) in enumerate(PANELS):
        panels.append({
            "id": i + 1, "type": "timeseries", "title": title, "datasource": DS,
            "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "none"}},
            "targets": [{"refId": chr(ord("A") + j), "datasource": DS, "expr": expr, "legendFormat": legend}
                        for j, (expr, legend) in enumerate(targets)],
        })
    return {
        "uid": "sparkpilot-dgx-spark", "title": "sparkpilot: DGX Spark and vLLM",
        "description": "GB10 read right: unified memory from /proc/meminfo, CUDA memory per process, QSFP/RoCE, "
                       "vLLM per node (sparkpilot exporter)",
        "tags": ["sparkpilot", "dgx-spark", "vllm"], "editable": True, "graphTooltip": 1,
        "schemaVersion": 39, "version": 1, "refresh": "10s", "timezone": "browser",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
            {"name": "node", "type": "query", "datasource": DS, "label": "node",
             "query": "label_values(sparkpilot_node_up, node)", "includeAll": True, "multi": True,
             "current": {"text": "All", "value": "$__all"}, "refresh": 2},
        ]},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


def queries(node: str = ".*") -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target, with $node filled in."""
    return [(p["title"], t["expr"].replace("$node", node)) for p in dashboard()["panels"] for t in p["targets"]]


def dashboard_json() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def rules_yaml() -> str:
    import yaml

    from sparkpilot.monitor.thresholds import prometheus_rules

    head = "# generated by `sparkpilot exporter --rules` from knowledge/monitor.yaml; do not edit\n"
    return head + yaml.safe_dump(prometheus_rules(), sort_keys=False, width=120, allow_unicode=True)
