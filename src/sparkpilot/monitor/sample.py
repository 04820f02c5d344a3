"""A node's sample: the sampler's frame parsed, with rates against the previous sample.

`NodeSample.metrics` is flat (name -> number or None): thresholds, the recorder, the report and the
exporter all read the same names. None is unknown (not reported by the host), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparkpilot.monitor import parse, vllm
from sparkpilot.monitor.sampler import Frame

NET_ERRORS = ("rx_errors", "tx_errors", "rx_dropped", "tx_dropped")
RDMA_ERRORS = ("symbol_error", "link_downed", "port_rcv_errors", "port_xmit_discards", "link_error_recovery",
               "local_link_integrity_errors", "out_of_sequence", "packet_seq_err", "local_ack_timeout_err")
QUANTILE_WINDOW_S = 60.0


@dataclass
class NodeSample:
    node: str
    role: str
    t: float
    metrics: dict[str, float | None] = field(default_factory=dict)
    gpu: parse.GpuSample | None = None
    apps: list[parse.ComputeApp] | None = None
    zones: list[Any] = field(default_factory=list)             # probes.thermal.Zone
    ports: dict[str, parse.Port] = field(default_factory=dict)
    rdma: dict[str, parse.RdmaPort] = field(default_factory=dict)
    vllm: vllm.VllmSnapshot | None = None
    vllm_text: str = ""                                        # the raw families, for the exporter
    errors: list[str] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        """What the flight recorder keeps of a sample (and `watch --format json` prints)."""
        return {
            "t": round(self.t, 3), "node": self.node, "role": self.role,
            "metrics": {k: _finite(v) for k, v in self.metrics.items()},
            "clock_reasons": self.gpu.clock_reasons if self.gpu else None,
            "cuda_processes": None if self.apps is None else
            [{"pid": a.pid, "name": a.name, "used_mib": a.used_mib} for a in self.apps],
            "ports": {n: {"up": p.up, "speed_mbps": p.speed_mbps, "mtu": p.mtu} for n, p in self.ports.items()},
            "rdma": {n: {"state": p.state, "rate_gbps": p.rate_gbps} for n, p in self.rdma.items()},
            "model": self.vllm.model if self.vllm else None,
            "errors": self.errors,
        }


def _finite(v: float | None) -> float | None:
    import math

    if v is None or not math.isfinite(v):
        return None
    return round(v, 4)


def _rate(now: float | None, before: float | None, dt: float) -> float | None:
    if now is None or before is None or dt <= 0 or now < before:   # a reset counter gives no rate
        return None
    return (now - before) / dt


def _bits(bytes_per_s: float | None) -> float | None:
    return None if bytes_per_s is None else bytes_per_s * 8


def _sum(values) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) if vals else None


def build(node: str, role: str, frame: Frame, prev: NodeSample | None = None,
          window_ref: NodeSample | None = None) -> NodeSample:
    """Parse one frame; `prev` gives counter rates, `window_ref` (a sample ~60 s older) the
    latency quantiles of that window."""
    from sparkpilot.probes.thermal import parse_tegrastats, parse_thermal_zones

    s = NodeSample(node, role, frame.epoch)
    sec = frame.sections
    if "files" in sec:
        from sparkpilot.monitor.sampler import split_files

        sec = {**split_files(sec["files"]), **{k: v for k, v in sec.items() if k != "files"}}
    m = s.metrics
    dt = frame.epoch - prev.t if prev else 0.0

    s.gpu = parse.parse_gpu(sec.get("gpu", ""))
    if s.gpu.error == parse.NO_GPU_LINE and prev is not None and prev.gpu is not None:
        s.gpu = prev.gpu   # read while nvidia-smi's loop rewrote its line: the last line stands
    if s.gpu.error:
        s.errors.append(f"gpu: {s.gpu.error}")
    m.update(gpu_temp_c=s.gpu.temp_c, gpu_power_w=s.gpu.power_w, gpu_sm_clock_mhz=s.gpu.sm_clock_mhz,
             gpu_sm_clock_max_mhz=s.gpu.sm_clock_max_mhz, gpu_util_pct=s.gpu.util_pct,
             gpu_throttling=None if s.gpu.clock_reasons is None else float(bool(s.gpu.throttling)))

    if "apps" in sec:
        s.apps = parse.parse_apps(sec["apps"])
    elif prev is not None:
        s.apps = prev.apps            # listed every few frames: the last list stands until the next
    m["cuda_bytes"] = parse.cuda_bytes(s.apps)

    mem = parse.parse_meminfo(sec.get("meminfo", ""))
    total = mem.get("total")
    cache = parse.page_cache_bytes(mem)
    m.update(mem_total_bytes=total, mem_available_bytes=mem.get("available"), page_cache_bytes=cache,
             shmem_bytes=mem.get("shmem"),
             swap_used_bytes=(mem["swap_total"] - mem["swap_free"]) if "swap_total" in mem and "swap_free" in mem else None,
             mem_available_ratio=mem["available"] / total if total and "available" in mem else None,
             page_cache_ratio=cache / total if total and cache is not None else None)
    psi = parse.parse_psi(sec.get("psi", ""))
    m.update(psi_some_avg10=psi.get("some_avg10"), psi_full_avg10=psi.get("full_avg10"))

    zones = parse_thermal_zones(sec.get("thermal", ""))
    s.zones = zones.zones
    cpu = zones.cpu_c if zones.zones else None
    if sec.get("tegra", "").strip():
        try:
            cpu = parse_tegrastats(sec["tegra"]).cpu_c or cpu
        except ValueError:
            pass
    m["cpu_temp_c"] = cpu

    s.ports = parse.parse_net(sec.get("net", ""))
    p_prev = prev.ports if prev else {}
    rx = [_rate(p.counters.get("rx_bytes"), p_prev[n].counters.get("rx_bytes"), dt)
          for n, p in s.ports.items() if n in p_prev]
    tx = [_rate(p.counters.get("tx_bytes"), p_prev[n].counters.get("tx_bytes"), dt)
          for n, p in s.ports.items() if n in p_prev]
    err = [_rate(_sum(p.counters.get(k) for k in NET_ERRORS), _sum(p_prev[n].counters.get(k) for k in NET_ERRORS), dt)
           for n, p in s.ports.items() if n in p_prev]
    m.update(net_rx_bps=_bits(_sum(rx)), net_tx_bps=_bits(_sum(tx)),
             net_errors_per_s=_sum(err),
             ports_up=float(sum(1 for p in s.ports.values() if p.up)) if s.ports else None,
             ports_down=float(sum(1 for p in s.ports.values() if p.up is False)) if s.ports else None)

    s.rdma = parse.parse_ib(sec.get("ib", ""))
    r_prev = prev.rdma if prev else {}
    rrx = [_rate(parse.rdma_bytes(p, "port_rcv_data"), parse.rdma_bytes(r_prev[n], "port_rcv_data"), dt)
           for n, p in s.rdma.items() if n in r_prev]
    rtx = [_rate(parse.rdma_bytes(p, "port_xmit_data"), parse.rdma_bytes(r_prev[n], "port_xmit_data"), dt)
           for n, p in s.rdma.items() if n in r_prev]
    rerr = [_rate(_sum(p.counters.get(k) for k in RDMA_ERRORS), _sum(r_prev[n].counters.get(k) for k in RDMA_ERRORS), dt)
            for n, p in s.rdma.items() if n in r_prev]
    rates = [p.rate_gbps for p in s.rdma.values() if p.active and p.rate_gbps is not None]
    m.update(rdma_rx_bps=_bits(_sum(rrx)), rdma_tx_bps=_bits(_sum(rtx)),
             rdma_errors_per_s=_sum(rerr), rdma_min_rate_gbps=min(rates) if rates else None,
             rdma_ports_active=float(sum(1 for p in s.rdma.values() if p.active)) if s.rdma else None)
    m["link_errors_per_s"] = _sum([m["net_errors_per_s"], m["rdma_errors_per_s"]])

    if "vllm" in sec or frame.vllm_rc is not None:
        s.vllm_text = sec.get("vllm", "")
        s.vllm = vllm.snapshot(s.vllm_text, up=frame.vllm_rc == 0)
    v, pv = s.vllm, prev.vllm if prev else None
    ref = window_ref.vllm if window_ref else None
    if v is not None:
        ref_ttft = ref.ttft_buckets if ref else None
        m.update(vllm_up=1.0 if v.up else 0.0, vllm_running=v.running, vllm_waiting=v.waiting,
                 vllm_kv_cache_usage=v.kv_cache_usage,
                 vllm_gen_tokens_per_s=_rate(v.generation_tokens, pv.generation_tokens if pv else None, dt),
                 vllm_prompt_tokens_per_s=_rate(v.prompt_tokens, pv.prompt_tokens if pv else None, dt),
                 vllm_ttft_p50_s=vllm.quantile(0.5, v.ttft_buckets, ref_ttft) if v.ttft_buckets else None,
                 vllm_ttft_p99_s=vllm.quantile(0.99, v.ttft_buckets, ref_ttft) if v.ttft_buckets else None,
                 vllm_itl_p50_s=vllm.quantile(0.5, v.itl_buckets, ref.itl_buckets if ref else None) if v.itl_buckets else None,
                 vllm_spec_acceptance=None)
        if ref and v.spec_draft_tokens is not None and ref.spec_draft_tokens is not None:
            drafted = v.spec_draft_tokens - ref.spec_draft_tokens
            if drafted > 0 and v.spec_accepted_tokens is not None and ref.spec_accepted_tokens is not None:
                m["vllm_spec_acceptance"] = (v.spec_accepted_tokens - ref.spec_accepted_tokens) / drafted
    return s
