"""Physical ceilings for a run row, so that an impossible figure is rejected, not printed.

Decode: every step reads the active weights once for the whole batch (split over the TP ranks,
each with its own memory) plus each stream's KV cache. One stream can therefore not decode faster
than bandwidth / (active weight bytes per rank + that stream's KV bytes per rank), times the
tokens a speculative step accepts.
Prefill: a prompt token costs 2 x active parameters FLOPs, so one request cannot prefill faster
than the ranks' peak FLOPS / (2 x active parameters).
The estimates err towards a higher ceiling (fewest bytes, the sparse FLOPS peak): a row above
one is impossible on any reading, a row under it is not thereby proven right.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkpilot.benchmark.knowledge import Hardware
from sparkpilot.benchmark.results import Row
from sparkpilot.models.info import ModelInfo

GB = 1e9


@dataclass(frozen=True)
class Bounds:
    """Ceilings of one deployment: a model on `tp` ranks of `hardware`."""

    active_weight_bytes: float | None   # bytes read per decode step (all ranks together)
    active_parameters: float | None
    compute_dtype: str
    tp: int
    hardware: Hardware

    def stream_decode_tok_s(self, context_tokens: int = 0, kv_bytes: float = 0.0,
                            tokens_per_step: float = 1.0) -> float | None:
        """Ceiling of one stream's decode rate at a context of `context_tokens` (KV `kv_bytes`)."""
        if not self.active_weight_bytes:
            return None
        per_rank = (self.active_weight_bytes + kv_bytes) / self.tp
        return self.hardware.memory_bandwidth_gbs * GB / per_rank * max(tokens_per_step, 1.0)

    def prefill_tok_s(self) -> float | None:
        """Ceiling of one request's prefill rate (tokens per second) on all ranks."""
        peak = self.hardware.peak_tflops.get(self.compute_dtype)
        if not self.active_parameters or not peak:
            return None
        return peak * 1e12 * self.tp / (2.0 * self.active_parameters)


def compute_dtype(model: ModelInfo) -> str:
    """The tensor dtype the matmuls can at best run in (the highest ceiling that applies)."""
    quant = (model.quantization or "").lower()
    if quant in ("nvfp4", "mxfp4", "modelopt_fp4", "fp4"):
        return "fp4"
    if quant in ("fp8", "modelopt", "compressed-tensors") or (model.quant_bits == 8):
        return "fp8"
    return "bf16"


def for_model(model: ModelInfo, tp: int, hardware: Hardware) -> Bounds:
    """Active bytes a decode step must read, at least: the active parameters at the checkpoint's
    narrowest width (its quantised bits; 16 otherwise), or the checkpoint's average bytes per
    parameter times the active share, whichever is fewer (a gpt-oss-120b step: 5.1B x 4 bits)."""
    total = model.num_parameters
    active = (model.active_parameters if model.is_moe else total) or total
    guesses: list[float] = []
    if active:
        bits = model.quant_bits if model.is_quantized and model.quant_bits else 16
        guesses.append(active * bits / 8)
    if model.weight_bytes:
        share = active / total if model.is_moe and active and total else 1.0
        guesses.append(model.weight_bytes * share)
    return Bounds(active_weight_bytes=min(guesses) if guesses else None,
                  active_parameters=float(active) if active else None,
                  compute_dtype=compute_dtype(model), tp=max(tp, 1), hardware=hardware)


def check(row: Row, bounds: Bounds, model: ModelInfo | None = None, kv_dtype_bytes: float = 1.0) -> list[str]:
    """Why `row` is physically impossible (empty when it is not)."""
    problems: list[str] = []
    context = 0
    if row.total_input_tokens and row.completed:
        context = row.total_input_tokens // row.completed
    kv = 0.0
    if model is not None and context:
        kv = float(model.kv_cache_bytes(context, kv_dtype_bytes) or 0.0)
    step = row.spec_decode_acceptance_length or 1.0
    decode_cap = bounds.stream_decode_tok_s(context, kv, step)
    stream = row.stream_decode_tok_s
    if decode_cap and stream and stream > decode_cap:
        problems.append(f"one stream decodes at {stream:.1f} tok/s, above the memory-bandwidth bound "
                        f"{decode_cap:.1f} tok/s ({bounds.hardware.memory_bandwidth_gbs:g} GB/s, "
                        f"{(bounds.active_weight_bytes or 0) / GB:.2f} GB active weights over TP={bounds.tp})")
    streams = row.max_concurrent_requests or row.concurrency or row.completed or 1
    if decode_cap and row.output_throughput and row.output_throughput > decode_cap * streams * 1.0001:
        problems.append(f"{row.output_throughput:.1f} tok/s in all is above {streams} streams x "
                        f"{decode_cap:.1f} tok/s, the bandwidth bound")
    prefill_cap = bounds.prefill_tok_s()
    prefill = row.stream_prefill_tok_s
    if prefill_cap and prefill and prefill > prefill_cap:
        problems.append(f"prefill at {prefill:.0f} tok/s per request, above the compute bound {prefill_cap:.0f} "
                        f"tok/s ({bounds.hardware.peak_tflops.get(bounds.compute_dtype):g} TFLOPS "
                        f"{bounds.compute_dtype} x TP={bounds.tp}, 2 x {(bounds.active_parameters or 0) / 1e9:.2f}B "
                        "FLOPs a token)")
    return problems
