"""`sparkpilot report DIR`: a flight recording drawn as one PNG (temperature, SM clock, memory,
link and tokens per second over time, per node, alerts marked) and one HTML page around it.
matplotlib is imported here only (the `[report]` extra)."""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkpilot.errors import UsageError
from sparkpilot.monitor import recorder

PANELS = (  # title, unit, [(metric, label, scale)]
    ("Temperature", "°C", [("gpu_temp_c", "GPU", 1.0), ("cpu_temp_c", "CPU", 1.0)]),
    ("GPU SM clock", "MHz", [("gpu_sm_clock_mhz", "SM clock", 1.0)]),
    ("Unified memory", "% of MemTotal", [("mem_available_ratio", "available", 100.0),
                                         ("page_cache_ratio", "page cache", 100.0)]),
    ("QSFP / RoCE link", "Gb/s", [("net_rx_bps", "rx", 1e-9), ("net_tx_bps", "tx", 1e-9),
                                  ("rdma_rx_bps", "RDMA rx", 1e-9), ("rdma_tx_bps", "RDMA tx", 1e-9)]),
    ("vLLM", "tokens/s", [("vllm_gen_tokens_per_s", "generated", 1.0), ("vllm_prompt_tokens_per_s", "prompt", 1.0)]),
)


@dataclass
class Series:
    t: list[float] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[tuple[float, list[str]]] = field(default_factory=list)


def load(directory: str | Path) -> tuple[dict[str, Series], dict[str, int]]:
    d = Path(directory)
    if not d.is_dir():
        raise UsageError(f"no recording folder `{directory}`")
    stats: dict[str, int] = {}
    nodes: dict[str, Series] = {}
    records = recorder.read(d, stats) if recorder.segments(d) else recorder.read_node_frames(d)
    for rec in records:
        node, t, metrics = rec.get("node"), rec.get("t"), rec.get("metrics")
        if not isinstance(node, str) or not isinstance(t, (int, float)) or not isinstance(metrics, dict):
            continue
        s = nodes.setdefault(node, Series())
        s.t.append(float(t))
        s.metrics.append(metrics)
        names = [a.get("name", "?") for a in rec.get("alerts") or [] if isinstance(a, dict)]
        if names:
            s.alerts.append((float(t), names))
    if not nodes:
        raise UsageError(f"`{directory}` holds no samples (record with `sparkpilot watch --record {directory}`, "
                         "or copy each node's --record-on-nodes folder into DIR/NODE)")
    stats["samples"] = sum(len(s.t) for s in nodes.values())
    return nodes, stats


def spans(nodes: dict[str, Series], gap: float = 5.0) -> list[tuple[float, float, str]]:
    """(start, end, "node: alert, ...") of each stretch of time in which a node had alerts firing."""
    out = []
    for node, s in sorted(nodes.items()):
        start = last = None
        names: set[str] = set()
        for t, ns in s.alerts:
            if start is not None and last is not None and t - last > gap:
                out.append((start, last, f"{node}: {', '.join(sorted(names))}"))
                start, names = None, set()
            start = t if start is None else start
            last = t
            names |= set(ns)
        if start is not None and last is not None:
            out.append((start, last, f"{node}: {', '.join(sorted(names))}"))
    return out


def draw(nodes: dict[str, Series], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = min(s.t[0] for s in nodes.values())
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(11, 2.6 * len(PANELS)), sharex=True)
    styles = ["-", "--", ":", "-."]
    for ax, (title, unit, lines) in zip(axes, PANELS, strict=False):
        drawn = False
        for ni, (node, s) in enumerate(sorted(nodes.items())):
            xs = [(t - t0) / 60 for t in s.t]
            for li, (key, label, scale) in enumerate(lines):
                ys = [float(v) * scale if isinstance(v := m.get(key), (int, float)) else float("nan") for m in s.metrics]
                if all(math.isnan(y) for y in ys):
                    continue
                ax.plot(xs, ys, styles[ni % len(styles)], color=f"C{li}", lw=1.3, label=f"{node} {label}")
                drawn = True
        for i, (a, b, names) in enumerate(spans(nodes)):
            ax.axvspan((a - t0) / 60, (b - t0) / 60, color="red", alpha=0.08, lw=0)
            if ax is axes[0]:   # one line per stretch, stacked from the bottom
                ax.text((a - t0) / 60, 0.03 + 0.09 * (i % 8), names, transform=ax.get_xaxis_transform(),
                        fontsize=7, color="darkred")
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=7, loc="upper right", ncol=2)
        else:
            ax.text(0.5, 0.5, "no data recorded", transform=ax.transAxes, ha="center", va="center", color="gray")
    axes[-1].set_xlabel(f"minutes since {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(t0))}"
                        "   (red bands: alerts firing, named in the first panel)")
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def _alert_rows(nodes: dict[str, Series]) -> list[tuple[str, str, str, str]]:
    """(node, alert, first seen, last seen) per node and alert name."""
    rows = []
    for node, s in sorted(nodes.items()):
        seen: dict[str, list[float]] = {}
        for t, names in s.alerts:
            for n in names:
                seen.setdefault(n, []).append(t)
        for n, ts in seen.items():
            fmt = "%H:%M:%S"
            rows.append((node, n, time.strftime(fmt, time.gmtime(min(ts))), time.strftime(fmt, time.gmtime(max(ts)))))
    return rows


def write(directory: str | Path, out: str | Path | None = None) -> dict[str, Any]:
    """Draw DIR's recording into OUT (default DIR): report.png and report.html. Returns a summary."""
    nodes, stats = load(directory)
    out_dir = Path(out) if out else Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    png, page = out_dir / "report.png", out_dir / "report.html"
    draw(nodes, png)
    rows = _alert_rows(nodes)
    t0 = min(s.t[0] for s in nodes.values())
    t1 = max(s.t[-1] for s in nodes.values())
    alert_html = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{c}</td><td>{d}</td></tr>"
                         for a, b, c, d in rows) or "<tr><td colspan=4>no alert fired</td></tr>"
    torn = f"; {stats['torn']} torn line(s) skipped" if stats.get("torn") else ""
    page.write_text(
        "<!doctype html><meta charset=utf-8><title>sparkpilot recording</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:left}</style>"
        f"<h1>sparkpilot recording</h1><p>{html.escape(str(directory))}: {stats['samples']} samples from "
        f"{len(nodes)} node(s), {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(t0))} to "
        f"{time.strftime('%H:%M:%S UTC', time.gmtime(t1))}"
        f"{torn}.</p>"
        f"<img src='{png.name}' alt='temperature, clock, memory, link and tokens per second over time'>"
        "<h2>Alerts</h2><table><tr><th>node</th><th>alert</th><th>first</th><th>last</th></tr>"
        f"{alert_html}</table>", encoding="utf-8")
    return {"png": str(png), "html": str(page), "nodes": sorted(nodes), "samples": stats["samples"],
            "torn": stats.get("torn", 0), "seconds": round(t1 - t0, 1),
            "alerts": [{"node": a, "alert": b, "first": c, "last": d} for a, b, c, d in rows]}
