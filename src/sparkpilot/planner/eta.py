"""Start-up time per phase (CONTRACTS.md phase names), from the reference's "Startup time reference".

The reference measured, for two Sparks serving Qwen3-235B-A22B-GPTQ-Int4 (118 GB, TP=2):
Ray cluster formation ~2 min, weight loading ~7 min, CUDA graph capture + compile ~5 min, first
successful inference ~15 min; and for one Spark with a 120B model (~65 GB): ~8 min in total.
From that: weights load at 59 GB / 420 s per node across nodes and about twice that on one node
(65 GB in ~4 min of the 8), compile + capture takes ~5 min across nodes and ~3 min on one, and the
remaining minute is container start, engine init, API server and the first answer.
Durations honour SPARKPILOT_TIME_SCALE (sparkpilot.timescale).
"""

from __future__ import annotations

from sparkpilot.timescale import time_scale

PHASES = ("container_start", "ray_cluster", "engine_init", "weight_loading", "memory_profiling",
          "cudagraph_capture", "api_server", "ready")

REF_MULTI_BYTES_PER_S = 118e9 / 2 / 420     # per node, Ray TP=2 (reference)
REF_SINGLE_BYTES_PER_S = 65e9 / 240         # one node, 120B model within ~8 min (reference)
REF_COMPILE_MULTI_S = 300.0
REF_COMPILE_SINGLE_S = 180.0
REF_RAY_S = 120.0
COMPILE_SHARE_PROFILING = 0.6               # torch.compile runs in the profiling phase


def startup_eta(weight_bytes_per_node: int, nodes: int, executor: str,
                environ: dict[str, str] | None = None) -> dict[str, float]:
    """Seconds per phase and `total`, scaled by SPARKPILOT_TIME_SCALE."""
    multi = nodes > 1
    rate = REF_MULTI_BYTES_PER_S if multi else REF_SINGLE_BYTES_PER_S
    compile_s = REF_COMPILE_MULTI_S if multi else REF_COMPILE_SINGLE_S
    # small models compile faster: a third of the time at least, scaled by the bytes loaded
    compile_s *= min(1.0, max(1 / 3, weight_bytes_per_node / 59e9))
    est = {
        "container_start": 15.0,
        "ray_cluster": (REF_RAY_S + 15.0 * (nodes - 2)) if executor == "ray" and multi else 0.0,
        "engine_init": 20.0 if multi else 10.0,
        "weight_loading": weight_bytes_per_node / rate,
        "memory_profiling": compile_s * COMPILE_SHARE_PROFILING,
        "cudagraph_capture": compile_s * (1 - COMPILE_SHARE_PROFILING),
        "api_server": 10.0,
        "ready": 15.0,
    }
    scale = time_scale(environ)
    out = {k: round(v * scale, 3) for k, v in est.items()}
    out["total"] = round(sum(out[k] for k in PHASES), 3)
    return out
