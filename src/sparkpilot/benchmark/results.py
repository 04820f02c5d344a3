"""Rows of a benchmark run, from the client's own outputs.

`vllm bench serve --save-result` writes one JSON object per run (keys such as `completed`,
`output_throughput`, `mean_ttft_ms`, `p99_tpot_ms`, see vllm/benchmarks/serve.py); without the
file, the summary it prints ("============ Serving Benchmark Result ============" and lines of
`label: value`) is read instead. Both parsers refuse what is not theirs (BenchOutputError).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sparkpilot.errors import EXIT_USAGE, SparkpilotError

SUMMARY_HEADER = "Serving Benchmark Result"


class BenchOutputError(SparkpilotError):
    exit_code = EXIT_USAGE


@dataclass
class Row:
    """One client run: what was asked and what came back. Times in ms, rates per second."""

    profile: str = ""
    concurrency: int | None = None          # closed loop: max concurrent requests
    request_rate: float | None = None       # open loop: Poisson arrivals per second (None = as fast as possible)
    input_len: int | None = None
    output_len: int | None = None
    completed: int = 0
    failed: int = 0
    duration_s: float | None = None
    total_input_tokens: int | None = None
    total_output_tokens: int | None = None
    request_throughput: float | None = None
    output_throughput: float | None = None  # aggregate output tokens per second
    total_token_throughput: float | None = None
    request_goodput: float | None = None
    mean_ttft_ms: float | None = None
    median_ttft_ms: float | None = None
    p99_ttft_ms: float | None = None
    mean_tpot_ms: float | None = None
    median_tpot_ms: float | None = None
    p99_tpot_ms: float | None = None
    mean_itl_ms: float | None = None
    p99_itl_ms: float | None = None
    mean_e2el_ms: float | None = None
    p99_e2el_ms: float | None = None
    max_concurrent_requests: int | None = None
    spec_decode_acceptance_length: float | None = None
    marks: list[str] = field(default_factory=list)  # "rejected: ...", "throttled", "hot", "metrics-mismatch"

    @property
    def stream_decode_tok_s(self) -> float | None:
        """One stream's decode rate: 1000 / time per output token."""
        return 1000.0 / self.mean_tpot_ms if self.mean_tpot_ms else None

    @property
    def stream_prefill_tok_s(self) -> float | None:
        """One request's prefill rate: its prompt over its time to first token."""
        if not self.mean_ttft_ms or not self.total_input_tokens or not self.completed:
            return None
        return (self.total_input_tokens / self.completed) / (self.mean_ttft_ms / 1000.0)

    @property
    def rejected(self) -> bool:
        return any(m.startswith("rejected") for m in self.marks)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stream_decode_tok_s"] = self.stream_decode_tok_s
        data["stream_prefill_tok_s"] = self.stream_prefill_tok_s
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


_JSON_KEYS = ("completed", "failed", "duration", "total_input_tokens", "total_output_tokens",
              "request_throughput", "output_throughput", "total_token_throughput", "request_goodput",
              "mean_ttft_ms", "median_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "median_tpot_ms",
              "p99_tpot_ms", "mean_itl_ms", "p99_itl_ms", "mean_e2el_ms", "p99_e2el_ms",
              "max_concurrent_requests", "spec_decode_acceptance_length")


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def parse_result_json(text: str, profile: str = "") -> Row:
    """A `--save-result` file of `vllm bench serve`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchOutputError(f"not a vllm bench serve result file (not JSON: {exc.msg})") from exc
    if not isinstance(data, dict) or "completed" not in data or "output_throughput" not in data:
        raise BenchOutputError("not a vllm bench serve result file (no completed / output_throughput)")
    row = Row(profile=profile)
    for key in _JSON_KEYS:
        value = _num(data.get(key))
        if value is None:
            continue
        attr = "duration_s" if key == "duration" else key
        if attr in ("completed", "failed", "total_input_tokens", "total_output_tokens", "max_concurrent_requests"):
            setattr(row, attr, int(value))
        else:
            setattr(row, attr, value)
    conc = _num(data.get("max_concurrency"))
    row.concurrency = int(conc) if conc is not None else None
    rate = data.get("request_rate")
    rate_f = _num(rate)
    row.request_rate = rate_f if rate_f is not None and rate_f != float("inf") else None
    return row


_SUMMARY_LINE = re.compile(r"^(?P<label>[A-Za-z][^:]{2,60}):\s+(?P<value>-?[0-9.]+|inf)\s*$")
_SUMMARY_MAP = {
    "successful requests": "completed",
    "failed requests": "failed",
    "maximum request concurrency": "concurrency",
    "request rate configured (rps)": "request_rate",
    "benchmark duration (s)": "duration_s",
    "total input tokens": "total_input_tokens",
    "total generated tokens": "total_output_tokens",
    "request throughput (req/s)": "request_throughput",
    "request goodput (req/s)": "request_goodput",
    "output token throughput (tok/s)": "output_throughput",
    "total token throughput (tok/s)": "total_token_throughput",
    "peak concurrent requests": "max_concurrent_requests",
    "mean ttft (ms)": "mean_ttft_ms",
    "median ttft (ms)": "median_ttft_ms",
    "p99 ttft (ms)": "p99_ttft_ms",
    "mean tpot (ms)": "mean_tpot_ms",
    "median tpot (ms)": "median_tpot_ms",
    "p99 tpot (ms)": "p99_tpot_ms",
    "mean itl (ms)": "mean_itl_ms",
    "p99 itl (ms)": "p99_itl_ms",
    "mean e2el (ms)": "mean_e2el_ms",
    "p99 e2el (ms)": "p99_e2el_ms",
    "acceptance length": "spec_decode_acceptance_length",
}
_INTS = {"completed", "failed", "concurrency", "total_input_tokens", "total_output_tokens", "max_concurrent_requests"}


def parse_summary(text: str, profile: str = "") -> Row:
    """The summary `vllm bench serve` prints (what owners paste)."""
    if SUMMARY_HEADER not in text:
        raise BenchOutputError("not a vllm bench serve summary (no 'Serving Benchmark Result' header)")
    row = Row(profile=profile)
    seen = False
    for line in text[text.index(SUMMARY_HEADER):].splitlines():
        match = _SUMMARY_LINE.match(line.strip())
        if not match:
            continue
        attr = _SUMMARY_MAP.get(match["label"].strip().lower())
        if attr is None:
            continue
        value = float(match["value"])
        if attr == "request_rate" and value == float("inf"):
            continue
        setattr(row, attr, int(value) if attr in _INTS else value)
        seen = True
    if not seen or (row.completed == 0 and row.output_throughput is None):
        raise BenchOutputError("vllm bench serve summary without figures")
    return row
