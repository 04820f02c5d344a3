"""How far a run is from what a Spark should give, and which setting of the running launch explains a gap.

Against: the memory-bandwidth bound of single-stream decode (bounds.py) and the public Spark results
of knowledge/bench.yaml for the same model, node count and concurrency (each with its source).
Why: lint's findings on the running launch (the container's own argv and environment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparkpilot.benchmark.bounds import Bounds
from sparkpilot.benchmark.knowledge import PublicResult, public_results, run_to_run_spread
from sparkpilot.models.registry import normalise


@dataclass
class Comparison:
    load: str
    measured_tok_s: float
    against: str                 # "bandwidth bound" or a public result's id
    expected_tok_s: float
    source: str

    @property
    def ratio(self) -> float:
        return self.measured_tok_s / self.expected_tok_s if self.expected_tok_s else 0.0

    def verdict(self) -> str:
        spread = run_to_run_spread()
        if self.against == "bandwidth bound":
            return f"{self.ratio:.0%} of the bandwidth bound"
        if self.ratio >= 1 - spread:
            return f"{self.ratio:.0%} of the public figure: within run-to-run spread (+-{spread:.0%})"
        return f"{self.ratio:.0%} of the public figure: below it by more than run-to-run spread"

    def to_dict(self) -> dict[str, Any]:
        return {"load": self.load, "measured_tok_s": self.measured_tok_s, "against": self.against,
                "expected_tok_s": self.expected_tok_s, "ratio": self.ratio, "verdict": self.verdict(),
                "source": self.source}


@dataclass
class Gap:
    comparisons: list[Comparison] = field(default_factory=list)
    causes: list[dict[str, str]] = field(default_factory=list)   # lint findings on the running launch


def matching(model: str, nodes: int, concurrency: int | None) -> list[PublicResult]:
    key = normalise(model)
    return [r for r in public_results()
            if normalise(r.model) == key and r.nodes == nodes and r.concurrency == concurrency and not r.note]


def compare(model: str, nodes: int, rows: list[tuple[str, int | None, float, float | None]],
            bounds: Bounds | None) -> list[Comparison]:
    """rows: (load label, concurrency, aggregate tok/s, one stream's decode tok/s)."""
    out: list[Comparison] = []
    for label, conc, total, stream in rows:
        if bounds is not None and conc == 1 and stream:
            cap = bounds.stream_decode_tok_s()
            if cap:
                out.append(Comparison(label, stream, "bandwidth bound", cap, bounds.hardware.source))
        for result in matching(model, nodes, conc):
            out.append(Comparison(label, total, result.id, result.tok_s, result.source))
    return out


def causes(launch_argv: list[str], env: dict[str, str], nodes: int) -> list[dict[str, str]]:
    """lint on the running launch: the settings that cost throughput on a Spark, errors first."""
    if not launch_argv:
        return []
    from sparkpilot.errors import SparkpilotError
    from sparkpilot.rules.lint import lint_launch
    from sparkpilot.vllm.parse import parse_argv

    try:
        spec = parse_argv(list(launch_argv), env=dict(env))
        findings = lint_launch(spec, nodes=nodes)
    except SparkpilotError:
        return []
    return [{"rule": f.rule, "id": f.id, "severity": f.severity, "message": f.message, "fix": f.fix}
            for f in findings if f.severity in ("error", "warning")]
