"""Plots and one HTML page for one or several runs: aggregate throughput against concurrency,
latency percentiles per load, and the envelope of each run. matplotlib is imported here only."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from sparkpilot.errors import EXIT_USAGE, SparkpilotError


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise SparkpilotError("the report needs matplotlib: pip install 'sparkpilot[report]'", EXIT_USAGE) from exc
    return plt


def short(deployment: str) -> str:
    """A container id or long name, cut for legends and headings."""
    return deployment if len(deployment) <= 24 else deployment[:12] + "…"


def _name(run: dict[str, Any]) -> str:
    return (f"{run['key']['host']}/{short(run['key']['deployment'])} {run['id']} "
            f"({run['nodes']} node{'s' * (run['nodes'] > 1)})")


def throughput_plot(runs: list[dict[str, Any]], path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for run in runs:
        points = [(ld["concurrency"], ld["output_tok_s"]["mean"], ld["output_tok_s"].get("ci95_half_width") or 0)
                  for ld in run["loads"] if ld["concurrency"] and ld["output_tok_s"]["n"]]
        points.sort()
        if points:
            xs, ys, es = zip(*points, strict=False)
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=_name(run))
    ax.set_xscale("log", base=2)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("concurrent requests")
    ax.set_ylabel("output tokens / s (all streams)")
    ax.set_title("Throughput against concurrency (95% interval)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_plot(runs: list[dict[str, Any]], path: Path) -> Path:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, metric, title in ((axes[0], "ttft", "Time to first token"), (axes[1], "tpot", "Time per output token")):
        labels, p50, p99 = [], [], []
        for run in runs:
            for ld in run["loads"]:
                kept = [r for r in ld["rows"] if not any(m.startswith("rejected") for m in r["marks"])]
                if not kept:
                    continue
                labels.append(f"{run['id'][-6:]} {ld['label']}")
                p50.append(sum(r.get(f"median_{metric}_ms") or 0 for r in kept) / len(kept))
                p99.append(sum(r.get(f"p99_{metric}_ms") or 0 for r in kept) / len(kept))
        ys = range(len(labels))
        ax.barh([y + 0.2 for y in ys], p99, height=0.4, label="p99")
        ax.barh([y - 0.2 for y in ys], p50, height=0.4, label="p50")
        ax.set_yticks(list(ys))
        ax.set_yticklabels(labels, fontsize=6)
        ax.set_xlabel("ms")
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _envelope_rows(run: dict[str, Any]) -> str:
    dep = run["envelope"]["deployment"]
    items = [("image", dep.get("image")), ("image id", dep.get("image_id")),
             ("digests", ", ".join(dep.get("repo_digests") or [])), ("vLLM", dep.get("vllm_version")),
             ("NCCL", dep.get("nccl_version")), ("launch", " ".join(dep.get("argv") or [])),
             ("bounds hardware", run["envelope"].get("hardware"))]
    first = next((c for ld in run["loads"] for c in ld["checks"]), None)
    if first:
        for when in ("host_before", "host_after"):
            h = first[when]
            items.append((when.replace("_", " "), f"GPU {h.get('gpu_temperature_c')} C, {h.get('gpu_power_w')} W, "
                          f"caps {h.get('clock_caps') or 'none'}, CPU {h.get('cpu_temperature_c')} C, "
                          f"page cache {h.get('page_cache_gib')} GiB"))
    return "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in items)


def write(runs: list[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"throughput": throughput_plot(runs, out_dir / "throughput.png"),
             "latency": latency_plot(runs, out_dir / "latency.png")}
    parts = ["<!doctype html><meta charset='utf-8'><title>sparkpilot bench</title>",
             "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}td,th{text-align:left;"
             "padding:2px 8px;font-size:13px}.bad{color:#b00}</style>",
             "<h1>sparkpilot bench</h1>", "<img src='throughput.png'><img src='latency.png'>"]
    for run in runs:
        parts.append(f"<h2>{html.escape(_name(run))}: {html.escape(run['model'])}</h2><table>")
        parts.append("<tr><th>load</th><th>tok/s (mean, 95%)</th><th>stream tok/s</th><th>runs</th><th>marks</th></tr>")
        for ld in run["loads"]:
            tot, st = ld["output_tok_s"], ld["stream_decode_tok_s"]
            marks = sorted({m for r in ld["rows"] for m in r["marks"]})
            ci = f" +- {tot['ci95_half_width']:.1f}" if tot.get("ci95_half_width") is not None else " (one run)"
            parts.append(f"<tr><td>{html.escape(ld['label'])}</td><td>{tot['mean']:.1f}{ci}</td>"
                         f"<td>{(st['mean'] or 0):.1f}</td><td>{len(ld['rows'])}</td>"
                         f"<td class='bad'>{html.escape('; '.join(marks))}</td></tr>")
        parts.append("</table><h3>Against what a Spark should give</h3><ul>")
        for c in run["comparisons"]:
            parts.append(f"<li>{html.escape(c['load'])}: {c['measured_tok_s']:.1f} tok/s, {html.escape(c['verdict'])} "
                         f"({c['expected_tok_s']:.1f}, {html.escape(c['source'][:120])})</li>")
        for cause in run["causes"]:
            parts.append(f"<li class='bad'>{html.escape(cause['rule'])}: {html.escape(cause['message'])}</li>")
        parts.append(f"</ul><h3>Envelope</h3><table>{_envelope_rows(run)}</table>")
    parts.append(f"<script type='application/json' id='runs'>{html.escape(json.dumps([r['id'] for r in runs]))}</script>")
    page = out_dir / "index.html"
    page.write_text("\n".join(parts), encoding="utf-8")
    files["html"] = page
    return files
