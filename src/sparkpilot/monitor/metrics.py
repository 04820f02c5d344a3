"""The monitor's metric names: the flat names of NodeSample.metrics and what each is in Prometheus.

One table, read by the exporter (gauge names and help), the alert rules generator (the PromQL of
a threshold's metric) and the Grafana dashboard. Every gauge carries the labels `node` and `role`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    prom: str            # the exported gauge (None-valued samples are not exported)
    help: str
    promql: str = ""     # how a rule reads it (default: the gauge itself)

    @property
    def query(self) -> str:
        return self.promql or self.prom


METRICS: dict[str, Metric] = {m_name: m for m_name, m in [
    ("gpu_temp_c", Metric("sparkpilot_gpu_temperature_celsius", "GPU temperature (nvidia-smi temperature.gpu)")),
    ("gpu_power_w", Metric("sparkpilot_gpu_power_watts", "GPU power draw (nvidia-smi power.draw)")),
    ("gpu_sm_clock_mhz", Metric("sparkpilot_gpu_sm_clock_mhz", "GPU SM clock (nvidia-smi clocks.sm)")),
    ("gpu_sm_clock_max_mhz", Metric("sparkpilot_gpu_sm_clock_max_mhz", "GPU maximum SM clock (clocks.max.sm)")),
    ("gpu_util_pct", Metric("sparkpilot_gpu_utilization_percent", "GPU utilisation (utilization.gpu)")),
    ("gpu_throttling", Metric("sparkpilot_gpu_throttling", "1 when a power or thermal clock event reason is active")),
    ("cuda_bytes", Metric("sparkpilot_cuda_process_memory_bytes",
                          "memory CUDA processes hold, summed per process (nvidia-smi --query-compute-apps)")),
    ("mem_total_bytes", Metric("sparkpilot_memory_total_bytes", "MemTotal of the unified memory (/proc/meminfo)")),
    ("mem_available_bytes", Metric("sparkpilot_memory_available_bytes", "MemAvailable (/proc/meminfo)")),
    ("mem_available_ratio", Metric("sparkpilot_memory_available_ratio", "MemAvailable / MemTotal")),
    ("page_cache_bytes", Metric("sparkpilot_page_cache_bytes", "page cache: Cached + Buffers - Shmem")),
    ("page_cache_ratio", Metric("sparkpilot_page_cache_ratio", "page cache / MemTotal")),
    ("shmem_bytes", Metric("sparkpilot_memory_shmem_bytes", "Shmem (/proc/meminfo)")),
    ("swap_used_bytes", Metric("sparkpilot_swap_used_bytes", "SwapTotal - SwapFree")),
    ("psi_some_avg10", Metric("sparkpilot_memory_pressure_some_percent",
                              "share of the last 10 s some task stalled on memory (/proc/pressure/memory)")),
    ("psi_full_avg10", Metric("sparkpilot_memory_pressure_full_percent",
                              "share of the last 10 s all tasks stalled on memory")),
    ("cpu_temp_c", Metric("sparkpilot_cpu_temperature_celsius", "hottest CPU/SoC thermal zone (or tegrastats)")),
    ("net_rx_bps", Metric("sparkpilot_qsfp_receive_bits_per_second", "QSFP netdevs, received bits/s (summed)")),
    ("net_tx_bps", Metric("sparkpilot_qsfp_transmit_bits_per_second", "QSFP netdevs, sent bits/s (summed)")),
    ("net_errors_per_s", Metric("sparkpilot_qsfp_errors_per_second", "QSFP netdev errors and drops per second")),
    ("ports_up", Metric("sparkpilot_qsfp_ports_up", "QSFP netdevs with operstate up")),
    ("ports_down", Metric("sparkpilot_qsfp_ports_down", "QSFP netdevs with operstate down")),
    ("ports_lost", Metric("sparkpilot_qsfp_ports_lost", "QSFP netdevs that were up since the watch began and are down now")),
    ("rdma_rx_bps", Metric("sparkpilot_rdma_receive_bits_per_second", "RoCE port_rcv_data x 4 bytes, bits/s")),
    ("rdma_tx_bps", Metric("sparkpilot_rdma_transmit_bits_per_second", "RoCE port_xmit_data x 4 bytes, bits/s")),
    ("rdma_errors_per_s", Metric("sparkpilot_rdma_errors_per_second", "RoCE error counters per second")),
    ("rdma_min_rate_gbps", Metric("sparkpilot_rdma_min_rate_gbps", "lowest rate of an active RoCE port")),
    ("rdma_ports_active", Metric("sparkpilot_rdma_ports_active", "RoCE ports in state ACTIVE")),
    ("link_errors_per_s", Metric("sparkpilot_link_errors_per_second", "QSFP netdev + RoCE errors per second")),
    ("vllm_up", Metric("sparkpilot_vllm_up", "1 when the node's vLLM answers /metrics (after it first did)")),
    ("vllm_running", Metric("sparkpilot_vllm_requests_running", "vllm:num_requests_running")),
    ("vllm_waiting", Metric("sparkpilot_vllm_requests_waiting", "vllm:num_requests_waiting")),
    ("vllm_kv_cache_usage", Metric("sparkpilot_vllm_kv_cache_usage_ratio", "vllm:kv_cache_usage_perc (0..1)")),
    ("vllm_gen_tokens_per_s", Metric("sparkpilot_vllm_generation_tokens_per_second",
                                     "rate of vllm:generation_tokens_total between samples")),
    ("vllm_prompt_tokens_per_s", Metric("sparkpilot_vllm_prompt_tokens_per_second",
                                        "rate of vllm:prompt_tokens_total between samples")),
    ("vllm_ttft_p50_s", Metric("sparkpilot_vllm_ttft_p50_seconds", "median time to first token, last minute")),
    ("vllm_ttft_p99_s", Metric("sparkpilot_vllm_ttft_p99_seconds", "p99 time to first token, last minute")),
    ("vllm_itl_p50_s", Metric("sparkpilot_vllm_itl_p50_seconds", "median inter-token latency, last minute")),
    ("vllm_spec_acceptance", Metric("sparkpilot_vllm_spec_decode_acceptance_ratio",
                                    "accepted / drafted speculative tokens, last minute")),
]}
