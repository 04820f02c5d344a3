"""The server's own count of what a run did, from vLLM's Prometheus `/metrics` before and after.

Counters used (vLLM's metric names, as its Grafana dashboard reads them):
  vllm:generation_tokens_total   output tokens produced
  vllm:prompt_tokens_total       prompt tokens processed (prefix-cache hits included)
  vllm:request_success_total     finished requests (summed over finished_reason)
The client's totals must agree with the deltas; a run whose figures the server does not confirm
is marked, because its rate is then not the deployment's (another client, a cache, a proxy).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

COUNTERS = ("vllm:generation_tokens_total", "vllm:prompt_tokens_total", "vllm:request_success_total")
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")


def parse_counters(text: str, names: tuple[str, ...] = COUNTERS) -> dict[str, float]:
    """Sum of each counter over its label sets, from Prometheus text exposition."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match or match["name"] not in names:
            continue
        try:
            value = float(match["value"])
        except ValueError:
            continue
        if math.isfinite(value):
            totals[match["name"]] = totals.get(match["name"], 0.0) + value
    return totals


@dataclass(frozen=True)
class CrossCheck:
    generation_tokens: float | None
    prompt_tokens: float | None
    requests: float | None
    client_output_tokens: int | None
    client_requests: int
    tolerance: float

    @property
    def agrees(self) -> bool | None:
        """None when the server gave no figures; else whether its output tokens match the client's."""
        if self.generation_tokens is None or not self.client_output_tokens:
            return None
        return abs(self.generation_tokens - self.client_output_tokens) <= self.tolerance * self.client_output_tokens

    def message(self) -> str:
        if self.agrees is None:
            return "the server's /metrics gave no token counters: not cross-checked"
        verdict = "agrees with" if self.agrees else "does NOT agree with"
        return (f"server counted {self.generation_tokens:.0f} output tokens and {self.requests or 0:.0f} requests: "
                f"{verdict} the client's {self.client_output_tokens} tokens, {self.client_requests} requests")

    def to_dict(self) -> dict[str, object]:
        return {"server_generation_tokens": self.generation_tokens, "server_prompt_tokens": self.prompt_tokens,
                "server_requests": self.requests, "client_output_tokens": self.client_output_tokens,
                "client_requests": self.client_requests, "agrees": self.agrees}


def cross_check(before: dict[str, float], after: dict[str, float], client_output_tokens: int | None,
                client_requests: int, tolerance: float = 0.02) -> CrossCheck:
    def delta(name: str) -> float | None:
        if name not in before or name not in after:
            return None
        return after[name] - before[name]

    return CrossCheck(generation_tokens=delta("vllm:generation_tokens_total"),
                      prompt_tokens=delta("vllm:prompt_tokens_total"),
                      requests=delta("vllm:request_success_total"),
                      client_output_tokens=client_output_tokens, client_requests=client_requests,
                      tolerance=tolerance)
