"""The whole bench: for each load, warm up, then repeat client runs until the interval is tight;
each row checked against the physical bounds and the server's /metrics; the envelope read before
and after; the run saved keyed by host and deployment. Yields nothing to print: `on_event` gets
progress events and the result is a plain dict (the JSON of `sparkpilot bench --format json`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sparkpilot.benchmark import bounds as bounds_mod
from sparkpilot.benchmark import envelope, expect, serverside, stats, store
from sparkpilot.benchmark.client import Client, Load
from sparkpilot.benchmark.knowledge import Hardware
from sparkpilot.benchmark.results import Row
from sparkpilot.benchmark.target import http_get
from sparkpilot.models.info import ModelInfo
from sparkpilot.transport.base import Runner

Event = dict[str, Any]
SCHEMA = 1


@dataclass
class Target:
    runner: Runner                       # the node that serves; the client runs there too
    host: str
    deployment: str                      # container name or deployment name: part of the key
    client: Client
    nodes: int = 1
    model: ModelInfo | None = None
    served: envelope.Deployment | None = None
    kv_dtype_bytes: float = 1.0


@dataclass
class Policy:
    min_runs: int = 2
    max_runs: int = 5
    target_ci: float = 0.05              # relative 95% half-width of the aggregate tok/s
    warmup: bool = True
    timeout_s: float = 1800.0


@dataclass
class LoadResult:
    load: Load
    rows: list[Row] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def kept(self) -> list[Row]:
        return [r for r in self.rows if not r.rejected]

    def total(self) -> stats.Interval:
        return stats.interval([r.output_throughput for r in self.kept() if r.output_throughput is not None])

    def stream(self) -> stats.Interval:
        return stats.interval([r.stream_decode_tok_s for r in self.kept() if r.stream_decode_tok_s is not None])


def fetch_metrics(runner: Runner, base_url: str) -> dict[str, float]:
    result = http_get(runner, base_url.rstrip("/") + "/metrics", 5)
    return serverside.parse_counters(result.stdout) if result.ok else {}


def _judge(row: Row, target: Target, bounds: bounds_mod.Bounds | None, before: dict[str, float],
           after: dict[str, float]) -> dict[str, Any]:
    check = serverside.cross_check(before, after, row.total_output_tokens, row.completed)
    if check.agrees is False:
        row.marks.append("metrics-mismatch: " + check.message())
    impossible = bounds_mod.check(row, bounds, target.model, target.kv_dtype_bytes) if bounds else []
    row.marks += [f"rejected: {p}" for p in impossible]
    return check.to_dict()


def run_load(target: Target, load: Load, bounds: bounds_mod.Bounds | None, policy: Policy,
             emit: Callable[[Event], None]) -> LoadResult:
    result = LoadResult(load)
    for i in range(policy.max_runs):
        emit({"event": "run", "load": load.label(), "repeat": i + 1, "max": policy.max_runs})
        before = fetch_metrics(target.runner, target.client.base_url)
        host_before = envelope.sample_host(target.runner)
        row = target.client.run(target.runner, load, f"{load.label()}-{i + 1}.json", policy.timeout_s)
        host_after = envelope.sample_host(target.runner)
        after = fetch_metrics(target.runner, target.client.base_url)
        check = _judge(row, target, bounds, before, after)
        if row.failed:
            row.marks.append(f"failed-requests: {row.failed} of {row.failed + row.completed} failed")
        row.marks += [m for m in dict.fromkeys(host_before.marks() + host_after.marks())]
        result.rows.append(row)
        result.checks.append({"cross_check": check, "host_before": envelope.to_dict(host_before),
                              "host_after": envelope.to_dict(host_after)})
        emit({"event": "row", "load": load.label(), "repeat": i + 1, "output_tok_s": row.output_throughput,
              "marks": row.marks})
        total = result.total()
        if i + 1 >= policy.min_runs and total.tight(policy.target_ci):
            break
    return result


def run(target: Target, loads: list[Load], hardware: Hardware, policy: Policy | None = None,
        on_event: Callable[[Event], None] | None = None) -> dict[str, Any]:
    policy = policy or Policy()
    emit = on_event or (lambda _e: None)
    bounds = bounds_mod.for_model(target.model, target.nodes, hardware) if target.model else None
    started = time.time()
    if policy.warmup and loads:
        first = loads[0]
        warm = Load("warmup", first.input_len, min(first.output_len, 16), max(2, min(first.concurrency or 1, 8)),
                    concurrency=first.concurrency or 1)
        emit({"event": "warmup", "load": warm.label()})
        target.client.run(target.runner, warm, "warmup.json", policy.timeout_s)
    results = [run_load(target, load, bounds, policy, emit) for load in loads]
    served = target.served or envelope.Deployment()
    table = [(r.load.label(), r.load.concurrency, r.total().mean, r.stream().mean if r.stream().n else None)
             for r in results if r.total().n]
    model_id = target.model.id if target.model else target.client.model
    comparisons = expect.compare(model_id, target.nodes, table, bounds)
    causes = expect.causes(served.argv, served.env, target.nodes) if comparisons else []
    run_doc: dict[str, Any] = {
        "schema": SCHEMA, "id": store.new_run_id(started),
        "key": {"host": target.host, "deployment": target.deployment},
        "model": model_id, "nodes": target.nodes, "client": "vllm bench serve",
        "started": started, "seconds": round(time.time() - started, 1),
        "policy": {"min_runs": policy.min_runs, "max_runs": policy.max_runs, "target_ci": policy.target_ci},
        "envelope": {"deployment": envelope.to_dict(served), "hardware": hardware.name,
                     "bounds": None if bounds is None else {
                         "stream_decode_tok_s": bounds.stream_decode_tok_s(), "prefill_tok_s": bounds.prefill_tok_s(),
                         "memory_bandwidth_gbs": hardware.memory_bandwidth_gbs, "source": hardware.source}},
        "loads": [{"label": r.load.label(), "profile": r.load.name, "concurrency": r.load.concurrency,
                   "request_rate": r.load.request_rate, "input_len": r.load.input_len,
                   "output_len": r.load.output_len, "prefix_len": r.load.prefix_len,
                   "output_tok_s": r.total().to_dict(), "stream_decode_tok_s": r.stream().to_dict(),
                   "tight": r.total().tight(policy.target_ci),
                   "rows": [row.to_dict() for row in r.rows], "checks": r.checks} for r in results],
        "comparisons": [c.to_dict() for c in comparisons],
        "causes": causes,
    }
    return run_doc


def save(run_doc: dict[str, Any]) -> str:
    return str(store.save(run_doc))
