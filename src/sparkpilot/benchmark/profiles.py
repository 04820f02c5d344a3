"""The loads of each profile.

single   one stream, prompt 1024 / decode 128 (the shape of the public Spark figures, pp1024 tg128)
sweep    closed loop at concurrency 1, 2, 4 ... up to the deployment's max concurrency (plan's figure)
depth    one stream at growing shared-prefix depths (prefix caching), as the public leaderboard's profile
poisson  open loop, Poisson arrivals at given rates, with goodput against an SLO, beside closed loop
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkpilot.benchmark.client import Load
from sparkpilot.errors import EXIT_USAGE, SparkpilotError

PROFILES = ("single", "sweep", "depth", "poisson")


@dataclass(frozen=True)
class Shape:
    input_len: int = 1024
    output_len: int = 128
    prompts: int | None = None              # per load; default scales with concurrency
    max_concurrency: int = 64               # from the plan when known
    max_model_len: int | None = None
    depths: tuple[int, ...] = (0, 4096, 16384)
    rates: tuple[float, ...] = (0.5, 1.0, 2.0)
    slo_ttft_ms: float = 2000.0
    slo_tpot_ms: float = 100.0


def _prompts(shape: Shape, concurrency: int) -> int:
    return shape.prompts if shape.prompts else max(4, 2 * concurrency)


def loads(profile: str, shape: Shape) -> list[Load]:
    if profile not in PROFILES:
        raise SparkpilotError(f"unknown profile `{profile}` (choose from {', '.join(PROFILES)})", EXIT_USAGE)
    if shape.input_len < 1 or shape.output_len < 1:
        raise SparkpilotError("--input-len and --output-len must be at least 1", EXIT_USAGE)
    if profile == "single":
        return [Load("single", shape.input_len, shape.output_len, shape.prompts or 4, concurrency=1)]
    if profile == "sweep":
        levels, c = [], 1
        while c <= max(shape.max_concurrency, 1):
            levels.append(c)
            c *= 2
        return [Load("sweep", shape.input_len, shape.output_len, _prompts(shape, c), concurrency=c) for c in levels]
    if profile == "depth":
        room = (shape.max_model_len or 10**9) - shape.input_len - shape.output_len
        depths = [d for d in shape.depths if d <= room]
        if not depths:
            raise SparkpilotError(f"no depth fits in max_model_len {shape.max_model_len}", EXIT_USAGE)
        return [Load("depth", shape.input_len, shape.output_len, shape.prompts or 4, concurrency=1, prefix_len=d)
                for d in depths]
    slo = (f"ttft:{shape.slo_ttft_ms:g}", f"tpot:{shape.slo_tpot_ms:g}")
    return [Load("poisson", shape.input_len, shape.output_len, shape.prompts or max(8, int(rate * 20)),
                  request_rate=rate, goodput=slo) for rate in shape.rates]
