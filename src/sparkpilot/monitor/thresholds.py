"""Alert thresholds (knowledge/monitor.yaml, ids SPM###): evaluated over a node's history, and
rendered as Prometheus alerting rules from the same entries.

A `level` threshold fires when `metric op value` (and every `when` condition) held in every sample
of the last `for_s` seconds. A `trend` threshold fits a least-squares line to the metric over
`trend.window_s` and fires when the line reaches `op value` within `trend.horizon_s` (Prometheus:
predict_linear), held for `for_s`. Unknown values (None) never fire and break a `for` streak.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sparkpilot.monitor.metrics import METRICS

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass(frozen=True)
class Threshold:
    id: str
    name: str
    severity: str
    kind: str
    metric: str
    op: str
    value: float
    for_s: float
    when: tuple[tuple[str, str, float], ...]
    window_s: float = 0.0
    horizon_s: float = 0.0
    summary: str = ""
    why: str = ""
    fix: str = ""
    evidence: str = ""


@dataclass
class Alert:
    id: str
    name: str
    severity: str
    node: str
    value: float | None
    message: str
    fix: str
    since: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "severity": self.severity, "node": self.node,
                "value": self.value, "message": self.message, "fix": self.fix, "since": self.since}


def _threshold(e: dict[str, Any]) -> Threshold:
    if e["metric"] not in METRICS or e["op"] not in OPS or e.get("kind", "level") not in ("level", "trend"):
        raise ValueError(f"knowledge/monitor.yaml {e.get('id')}: unknown metric, op or kind")
    when = tuple((w["metric"], w["op"], float(w["value"])) for w in e.get("when") or [])
    trend = e.get("trend") or {}
    return Threshold(e["id"], e["name"], e["severity"], e.get("kind", "level"), e["metric"], e["op"],
                     float(e["value"]), float(e.get("for_s", 0)), when, float(trend.get("window_s", 0)),
                     float(trend.get("horizon_s", 0)), e.get("summary", ""), e.get("why", ""),
                     e.get("fix", ""), e.get("evidence", ""))


@functools.lru_cache(maxsize=1)
def load() -> tuple[Threshold, ...]:
    from sparkpilot import knowledge

    return tuple(_threshold(e) for e in knowledge.load("monitor"))


def _holds(t: Threshold, metrics: dict[str, float | None], value: float | None) -> bool:
    if value is None or not OPS[t.op](value, t.value):
        return False
    for name, op, limit in t.when:
        v = metrics.get(name)
        if v is None or not OPS[op](v, limit):
            return False
    return True


def predict(points: Sequence[tuple[float, float]], at: float) -> float | None:
    """The least-squares line through (t, v) points, evaluated at time `at`."""
    n = len(points)
    if n < 3:
        return None
    mt = sum(p[0] for p in points) / n
    mv = sum(p[1] for p in points) / n
    den = sum((p[0] - mt) ** 2 for p in points)
    if den <= 0:
        return None
    slope = sum((p[0] - mt) * (p[1] - mv) for p in points) / den
    return mv + slope * (at - mt)


def _trend_value(t: Threshold, history: Sequence[Any], upto: int) -> float | None:
    """predict_linear of the metric at history[upto]: the window behind it, projected horizon_s ahead."""
    now = history[upto].t
    pts = [(s.t, s.metrics.get(t.metric)) for s in history[: upto + 1] if s.t >= now - t.window_s]
    pts = [(a, b) for a, b in pts if b is not None]
    if len(pts) < 3 or pts[-1][0] - pts[0][0] < min(t.window_s / 5, 120):   # too short a history to trust
        return None
    return predict(pts, now + t.horizon_s)


def evaluate(history: Sequence[Any], thresholds: Sequence[Threshold] | None = None,
             instant: bool = False) -> list[Alert]:
    """Alerts firing at the last sample of one node's history (oldest first, NodeSample-like).
    `instant` (watch --once): levels judged on the last sample alone, no `for`, no trends."""
    if not history:
        return []
    history = list(history)
    alerts = []
    last = history[-1]
    for t in thresholds if thresholds is not None else load():
        if instant:
            if t.kind == "level" and _holds(t, last.metrics, last.metrics.get(t.metric)):
                v = last.metrics.get(t.metric)
                alerts.append(Alert(t.id, t.name, t.severity, last.node, v, _message(t, v, v, instant=True), t.fix,
                                    last.t))
            continue
        since = None
        value_now = None
        for i in range(len(history) - 1, -1, -1):
            s = history[i]
            value = _trend_value(t, history, i) if t.kind == "trend" else s.metrics.get(t.metric)
            if i == len(history) - 1:
                value_now = value
            if not _holds(t, s.metrics, value):
                break
            since = s.t
            if last.t - s.t >= t.for_s:
                break
        if since is None or last.t - since < t.for_s:
            continue
        shown = last.metrics.get(t.metric)
        alerts.append(Alert(t.id, t.name, t.severity, last.node, shown if shown is not None else value_now,
                            _message(t, shown, value_now), t.fix, since))
    return alerts


def _fmt(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def _message(t: Threshold, now: float | None, value: float | None, instant: bool = False) -> str:
    if t.kind == "trend":
        return (f"{t.name}: {t.metric} {_fmt(now)} heading to {_fmt(value)} within "
                f"{t.horizon_s / 60:.0f} min ({t.op} {_fmt(t.value)})")
    held = "" if instant or not t.for_s else f" for {t.for_s:.0f}s"
    return f"{t.name}: {t.metric} {_fmt(now)} {t.op} {_fmt(t.value)}{held}"


def _dur(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}m" if s and s % 60 == 0 else f"{s}s"


def rule_expr(t: Threshold) -> str:
    q = METRICS[t.metric].query
    if t.kind == "trend":
        expr = f"predict_linear({q}[{_dur(t.window_s)}], {t.horizon_s:g}) {t.op} {t.value:g}"
    else:
        expr = f"{q} {t.op} {t.value:g}"
    for name, op, limit in t.when:
        expr += f" and on (node) {METRICS[name].query} {op} {limit:g}"
    return expr


def prometheus_rules(thresholds: Sequence[Threshold] | None = None) -> dict[str, Any]:
    """The Prometheus alerting rules file (rule_files: YAML) for every threshold."""
    rules = []
    for t in thresholds if thresholds is not None else load():
        rules.append({
            "alert": "Sparkpilot" + "".join(w.capitalize() for w in t.name.split("-")),
            "expr": rule_expr(t),
            "for": _dur(t.for_s) if t.for_s else "0s",
            "labels": {"severity": t.severity, "sparkpilot_id": t.id},
            "annotations": {"summary": f"{{{{ $labels.node }}}}: {t.summary}", "description": t.why,
                            "fix": t.fix, "evidence": t.evidence},
        })
    return {"groups": [{"name": "sparkpilot", "rules": rules}]}
