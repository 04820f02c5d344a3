"""Repeat until the confidence interval is tight: mean, Student-t interval, relative half-width."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

# two-sided 95% Student t quantiles by degrees of freedom (1..30); beyond, the normal 1.96
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042)


def t95(df: int) -> float:
    if df < 1:
        return math.inf
    return _T95[df - 1] if df <= len(_T95) else 1.96


@dataclass(frozen=True)
class Interval:
    n: int
    mean: float
    half_width: float          # 95% interval: mean +- half_width (inf with one sample)

    @property
    def relative(self) -> float:
        return self.half_width / self.mean if self.mean else math.inf

    def tight(self, target: float) -> bool:
        return self.n >= 2 and self.relative <= target

    def to_dict(self) -> dict[str, float | int | None]:
        finite = math.isfinite(self.half_width)
        return {"n": self.n, "mean": self.mean, "ci95_half_width": self.half_width if finite else None,
                "ci95_relative": self.relative if finite else None}


def interval(samples: list[float]) -> Interval:
    values = [float(v) for v in samples if v is not None and math.isfinite(v)]
    if not values:
        return Interval(0, 0.0, math.inf)
    mean = statistics.fmean(values)
    if len(values) < 2:
        return Interval(1, mean, math.inf)
    sd = statistics.stdev(values)
    return Interval(len(values), mean, t95(len(values) - 1) * sd / math.sqrt(len(values)))
