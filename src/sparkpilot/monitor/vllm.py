"""vLLM's /metrics (Prometheus text format), the families the monitor reads, by vLLM's own names.

`vllm:num_requests_running`, `vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc` (0..1; older
releases: `vllm:gpu_cache_usage_perc`), `vllm:generation_tokens_total`, `vllm:prompt_tokens_total`,
`vllm:time_to_first_token_seconds` and `vllm:inter_token_latency_seconds` (older:
`vllm:time_per_output_token_seconds`) histograms, `vllm:spec_decode_num_draft_tokens_total` and
`vllm:spec_decode_num_accepted_tokens_total` (speculative decoding, when enabled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def parse_labels(text: str) -> dict[str, str]:
    """'engine="0",model_name="a,b"' -> {'engine': '0', 'model_name': 'a,b'} (escapes \\\\ \\" \\n)."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in ", ":
            i += 1
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq].strip()
        i = eq + 1
        if i >= n or text[i] != '"':
            break
        i += 1
        buf = []
        while i < n and text[i] != '"':
            if text[i] == "\\" and i + 1 < n:
                i += 1
                buf.append({"n": "\n"}.get(text[i], text[i]))
            else:
                buf.append(text[i])
            i += 1
        out[key] = "".join(buf)
        i += 1
    return out


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Metrics:
    types: dict[str, str] = field(default_factory=dict)    # family -> counter | gauge | histogram
    helps: dict[str, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    def total(self, *names: str) -> float | None:
        """Sum over every label set of the first name present (None when absent)."""
        for name in names:
            vals = [s.value for s in self.samples if s.name == name]
            if vals:
                return sum(vals)
        return None

    def maximum(self, *names: str) -> float | None:
        for name in names:
            vals = [s.value for s in self.samples if s.name == name]
            if vals:
                return max(vals)
        return None

    def buckets(self, *families: str) -> dict[float, float] | None:
        """A histogram's cumulative buckets summed over label sets: {le: count} (le inf for +Inf)."""
        for fam in families:
            out: dict[float, float] = {}
            for s in self.samples:
                if s.name == fam + "_bucket" and "le" in s.labels:
                    le = math.inf if s.labels["le"] in ("+Inf", "Inf") else float(s.labels["le"])
                    out[le] = out.get(le, 0.0) + s.value
            if out:
                return out
        return None


def parse(text: str) -> Metrics:
    """Prometheus text exposition -> Metrics (unparseable lines are skipped, never fatal)."""
    m = Metrics()
    for line in text.splitlines():
        if not line:
            continue
        if line[0] == "#":
            words = line.split(None, 3)
            if len(words) >= 4 and words[1] == "TYPE":
                m.types[words[2]] = words[3].strip()
            elif len(words) >= 3 and words[1] == "HELP":
                m.helps[words[2]] = words[3] if len(words) > 3 else ""
            continue
        brace = line.find("{")
        if brace >= 0:
            close = line.rfind("}")
            if close < brace:
                continue
            name, labels, rest = line[:brace], parse_labels(line[brace + 1:close]), line[close + 1:]
        else:
            name, _, rest = line.partition(" ")
            labels = {}
        words = rest.split()
        if not words:
            continue
        try:
            value = float(words[0])
        except ValueError:
            continue
        m.samples.append(Sample(name.strip(), labels, value))
    return m


def quantile(q: float, now: dict[float, float], before: dict[float, float] | None) -> float | None:
    """histogram_quantile over the increase between two bucket snapshots (Prometheus' linear
    interpolation within the bucket); None when nothing was observed in between."""
    les = sorted(now)
    counts = [now[le] - (before or {}).get(le, 0.0) for le in les]
    if not les or les[-1] != math.inf or counts[-1] <= 0:
        return None
    rank = q * counts[-1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in zip(les, counts, strict=False):
        if c >= rank:
            if le == math.inf:
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return None


@dataclass
class VllmSnapshot:
    up: bool
    running: float | None = None
    waiting: float | None = None
    kv_cache_usage: float | None = None       # 0..1
    generation_tokens: float | None = None    # counters (totals since the server started)
    prompt_tokens: float | None = None
    preemptions: float | None = None
    spec_draft_tokens: float | None = None
    spec_accepted_tokens: float | None = None
    ttft_buckets: dict[float, float] | None = None
    itl_buckets: dict[float, float] | None = None
    model: str | None = None


def snapshot(text: str, up: bool = True) -> VllmSnapshot:
    m = parse(text)
    model = next((s.labels.get("model_name") for s in m.samples if s.labels.get("model_name")), None)
    return VllmSnapshot(
        up=up and bool(m.samples),
        running=m.total("vllm:num_requests_running"),
        waiting=m.total("vllm:num_requests_waiting"),
        kv_cache_usage=m.maximum("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
        generation_tokens=m.total("vllm:generation_tokens_total"),
        prompt_tokens=m.total("vllm:prompt_tokens_total"),
        preemptions=m.total("vllm:num_preemptions_total"),
        spec_draft_tokens=m.total("vllm:spec_decode_num_draft_tokens_total"),
        spec_accepted_tokens=m.total("vllm:spec_decode_num_accepted_tokens_total"),
        ttft_buckets=m.buckets("vllm:time_to_first_token_seconds"),
        itl_buckets=m.buckets("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
        model=model,
    )
