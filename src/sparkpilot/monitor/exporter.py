"""The Prometheus exporter: the collector's latest samples as metrics (prometheus_client), every
gauge labelled with `node` and `role`, and each node's vLLM families passed through under vLLM's own
names (vllm:...) with `node` and `role` added, so vLLM's Grafana queries work per node.

    serve(collector, port=9469, addr="0.0.0.0") -> the HTTP server thread (prometheus_client)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sparkpilot.monitor import vllm
from sparkpilot.monitor.metrics import METRICS

DEFAULT_PORT = 9469
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"   # what generate_latest writes, named as Prometheus knows it


class SparkpilotCollector:
    """A prometheus_client custom collector reading a monitor Collector at scrape time."""

    def __init__(self, collector: Any):
        self.c = collector

    def describe(self) -> list:
        return []            # no describe: registration does not call collect()

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        latest = self.c.latest
        states = self.c.state
        roles = {t.name: t.role for t in self.c.targets}
        now = time.time()
        up = GaugeMetricFamily("sparkpilot_node_up", "1 while the node's sampler streams", labels=["node", "role"])
        age = GaugeMetricFamily("sparkpilot_sample_age_seconds", "age of the node's latest sample",
                                labels=["node", "role"])
        for name, st in states.items():
            up.add_metric([name, roles[name]], 1.0 if st.status == "streaming" else 0.0)
            if name in latest:
                age.add_metric([name, roles[name]], max(now - latest[name].t, 0.0))
        yield up
        yield age
        for key, meta in METRICS.items():
            g = GaugeMetricFamily(meta.prom, meta.help, labels=["node", "role"])
            for name, s in latest.items():
                v = s.metrics.get(key)
                if v is not None:
                    g.add_metric([name, s.role], float(v))
            yield g
        reasons = GaugeMetricFamily("sparkpilot_gpu_clock_event_active",
                                    "1 for each active NVML clock event reason", labels=["node", "role", "reason"])
        procs = GaugeMetricFamily("sparkpilot_cuda_memory_by_process_bytes",
                                  "memory a CUDA process holds (nvidia-smi --query-compute-apps)",
                                  labels=["node", "role", "pid", "process"])
        zones = GaugeMetricFamily("sparkpilot_thermal_zone_celsius", "thermal zone temperature",
                                  labels=["node", "role", "zone", "type"])
        port_up = GaugeMetricFamily("sparkpilot_qsfp_port_up", "1 when the QSFP netdev's operstate is up",
                                    labels=["node", "role", "port"])
        port_speed = GaugeMetricFamily("sparkpilot_qsfp_port_speed_mbps", "QSFP netdev speed",
                                       labels=["node", "role", "port"])
        port_bytes = CounterMetricFamily("sparkpilot_qsfp_bytes", "QSFP netdev bytes",
                                         labels=["node", "role", "port", "direction"])
        port_err = CounterMetricFamily("sparkpilot_qsfp_errors", "QSFP netdev errors and drops",
                                       labels=["node", "role", "port", "counter"])
        rdma_rate = GaugeMetricFamily("sparkpilot_rdma_port_rate_gbps", "RoCE port rate",
                                      labels=["node", "role", "device", "port"])
        rdma_ctr = CounterMetricFamily("sparkpilot_rdma_counter", "RoCE port counters and hw_counters",
                                       labels=["node", "role", "device", "port", "counter"])
        for name, s in latest.items():
            lab = [name, s.role]
            for r in (s.gpu.clock_reasons or []) if s.gpu else []:
                reasons.add_metric(lab + [r], 1.0)
            for a in s.apps or []:
                if a.used_mib is not None:
                    procs.add_metric(lab + [str(a.pid), a.name], a.used_mib * 1024 * 1024)
            for z in s.zones:
                zones.add_metric(lab + [z.zone, z.type], z.temp_c)
            for pn, p in s.ports.items():
                if p.up is not None:
                    port_up.add_metric(lab + [pn], 1.0 if p.up else 0.0)
                if p.speed_mbps is not None:
                    port_speed.add_metric(lab + [pn], p.speed_mbps)
                for d, k in (("receive", "rx_bytes"), ("transmit", "tx_bytes")):
                    if k in p.counters:
                        port_bytes.add_metric(lab + [pn, d], float(p.counters[k]))
                for k in ("rx_errors", "tx_errors", "rx_dropped", "tx_dropped"):
                    if k in p.counters:
                        port_err.add_metric(lab + [pn, k], float(p.counters[k]))
            for r in s.rdma.values():
                if r.rate_gbps is not None:
                    rdma_rate.add_metric(lab + [r.device, r.port], r.rate_gbps)
                for k, v in r.counters.items():
                    rdma_ctr.add_metric(lab + [r.device, r.port, k], float(v))
        yield from (reasons, procs, zones, port_up, port_speed, port_bytes, port_err, rdma_rate, rdma_ctr)
        alert = GaugeMetricFamily("sparkpilot_alert", "1 for each sparkpilot threshold firing (knowledge/monitor.yaml)",
                                  labels=["node", "role", "id", "name", "severity"])
        for name, alerts in self.c.alerts.items():
            for a in alerts:
                alert.add_metric([name, roles[name], a.id, a.name, a.severity], 1.0)
        yield alert
        yield from vllm_families(latest)


def vllm_families(latest: dict[str, Any]) -> Iterator[Any]:
    """Each node's vLLM families, merged across nodes, with node and role labels added."""
    from prometheus_client.metrics_core import Metric

    fams: dict[str, Any] = {}
    for name, s in sorted(latest.items()):
        if not s.vllm_text:
            continue
        m = vllm.parse(s.vllm_text)
        for sm in m.samples:
            fam, typ = _family(sm.name, m.types)
            if fam not in fams:
                fams[fam] = Metric(fam, m.helps.get(fam) or m.helps.get(fam + "_total") or fam, typ)
            labels = dict(sm.labels)
            labels.update(node=name, role=s.role)
            fams[fam].add_sample(sm.name, labels, sm.value)
    yield from fams.values()


def _family(sample: str, types: dict[str, str]) -> tuple[str, str]:
    if sample in types:
        typ = types[sample]
        if typ == "counter" and sample.endswith("_total"):
            return sample[: -len("_total")], "counter"
        return sample, typ if typ in ("gauge", "counter", "histogram", "summary") else "untyped"
    for suffix in ("_bucket", "_sum", "_count", "_total"):
        if sample.endswith(suffix):
            base = sample[: -len(suffix)]
            if base in types:
                return base, types[base]
            if sample in types or base + "_total" in types:
                return base, "counter"
    return sample, "untyped"


def registry(collector: Any):
    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry(auto_describe=False)
    reg.register(SparkpilotCollector(collector))
    return reg


def serve(collector: Any, port: int = DEFAULT_PORT, addr: str = "0.0.0.0"):
    """GET /metrics in Prometheus' text format 0.0.4, whatever the scraper asks for: prometheus_client
    0.26's OpenMetrics encoder (which Prometheus asks for first) writes vLLM's `vllm:` names as
    `vllm_`, which would break vLLM's own dashboards and queries."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prometheus_client.exposition import generate_latest

    reg = registry(collector)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = generate_latest(reg)
            self.send_response(200)
            self.send_header("Content-Type", TEXT_FORMAT)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((addr, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="exporter-http", daemon=True)
    thread.start()
    return server, thread
