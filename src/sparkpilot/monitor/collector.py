"""The collector: one streamed sampler per node over a runner kept open, samples and alerts kept
in memory (a bounded history per node), handed to listeners (the recorder, the TUI, the exporter).

    c = Collector([NodeTarget("spark-1", "head", runner1), ...], interval=1.0)
    c.start(); c.wait(samples=1, timeout=15); c.latest["spark-1"].metrics; c.alerts["spark-1"]; c.stop()

A stream that ends (host rebooted, ssh dropped) marks the node lost with the reason and is opened
again after `retry_s`; nothing here prints.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sparkpilot.monitor import sample as sample_mod
from sparkpilot.monitor import sampler, stream, thresholds
from sparkpilot.transport.base import Runner


@dataclass
class NodeTarget:
    name: str
    role: str
    runner: Runner
    vllm_port: int | None = 8000


@dataclass
class NodeState:
    status: str = "connecting"          # connecting | streaming | lost: REASON
    samples: int = 0
    seen_vllm: bool = False
    seen_up: set = field(default_factory=set)   # QSFP ports seen up since the watch began
    history: collections.deque = field(default_factory=collections.deque)
    alerts: list[thresholds.Alert] = field(default_factory=list)


Listener = Callable[[sample_mod.NodeSample, list], None]


class Collector:
    def __init__(self, targets: list[NodeTarget], *, interval: float = 1.0, history_s: float = 3600.0,
                 retry_s: float = 5.0, tegrastats: bool = True, record_on_nodes: str | None = None,
                 record_max_bytes: int = 256 * 1024 * 1024):
        self.targets = targets
        self.interval = interval
        self.history_s = history_s
        self.retry_s = retry_s
        self.tegrastats = tegrastats
        self.record_on_nodes = record_on_nodes
        self.record_max_bytes = record_max_bytes
        self.state: dict[str, NodeState] = {t.name: NodeState() for t in targets}
        self.listeners: list[Listener] = []
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._streams: dict[str, Any] = {}

    # -- views ------------------------------------------------------------------------------
    @property
    def latest(self) -> dict[str, sample_mod.NodeSample]:
        return {n: s.history[-1] for n, s in self.state.items() if s.history}

    @property
    def alerts(self) -> dict[str, list[thresholds.Alert]]:
        return {n: list(s.alerts) for n, s in self.state.items()}

    def history(self, node: str) -> list[sample_mod.NodeSample]:
        return list(self.state[node].history)

    # -- life -------------------------------------------------------------------------------
    def start(self) -> Collector:
        for t in self.targets:
            th = threading.Thread(target=self._run, args=(t,), name=f"sampler-{t.name}", daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def wait(self, samples: int = 1, timeout: float = 30.0) -> bool:
        """Until every node has `samples` samples or is lost; False on timeout."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                if all(s.samples >= samples or s.status.startswith("lost") for s in self.state.values()):
                    return True
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))

    def stop(self) -> None:
        self._stop.set()
        for st in list(self._streams.values()):
            st.close()
        for th in self._threads:
            th.join(timeout=5)

    # -- per node ---------------------------------------------------------------------------
    def _run(self, t: NodeTarget) -> None:
        st = self.state[t.name]
        argv = sampler.argv(self.interval, t.vllm_port, self.tegrastats, self.record_on_nodes, self.record_max_bytes)
        while not self._stop.is_set():
            try:
                s = stream.open_stream(t.runner, argv)
            except Exception as exc:  # noqa: BLE001 - a host that cannot be reached is a state, not a crash
                self._set_status(st, f"lost: {exc}")
            else:
                self._streams[t.name] = s
                try:
                    self._consume(t, st, s)
                except Exception as exc:  # noqa: BLE001 - a bug shows as the node's state, the others go on
                    self._set_status(st, f"lost: internal error {type(exc).__name__}: {exc}")
                    s.close()
                    return
                self._streams.pop(t.name, None)
                reason = s.reason() if not self._stop.is_set() else ""
                s.close()
                if self._stop.is_set():
                    return
                self._set_status(st, f"lost: {reason or 'the sampler stream ended'}")
            self._stop.wait(self.retry_s)

    def _set_status(self, st: NodeState, status: str) -> None:
        with self._cond:
            st.status = status
            self._cond.notify_all()

    def _consume(self, t: NodeTarget, st: NodeState, s: Any) -> None:
        reader = sampler.FrameReader()
        for line in s.lines():
            frame = reader.feed(line)
            if frame is None:
                continue
            hist = st.history
            prev = hist[-1] if hist else None
            ref = next((h for h in hist if h.t >= frame.epoch - sample_mod.QUANTILE_WINDOW_S), None)
            ns = sample_mod.build(t.name, t.role, frame, prev, ref)
            if ns.vllm is not None and ns.vllm.up:
                st.seen_vllm = True
            st.seen_up |= {n for n, p in ns.ports.items() if p.up}
            ns.metrics["ports_lost"] = float(sum(1 for n in st.seen_up if ns.ports.get(n) is None or not ns.ports[n].up)) \
                if ns.ports else None
            if not st.seen_vllm:     # a node that never served vLLM (a Ray worker) is not "vLLM down"
                ns.metrics["vllm_up"] = None
            if prev is not None and prev.vllm_text:
                prev.vllm_text = ""  # only the latest sample keeps the raw families
            hist.append(ns)
            while hist and hist[0].t < ns.t - self.history_s:
                hist.popleft()
            alerts = thresholds.evaluate(hist)
            with self._cond:
                st.alerts = alerts
                st.samples += 1
                st.status = "streaming"
                self._cond.notify_all()
            for fn in self.listeners:
                fn(ns, alerts)
