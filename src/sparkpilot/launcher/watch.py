"""Follow a starting deployment: every node's live log through LiveDiagnosis, the plan's phase
estimates, container states and the head's /health, until ready or failed.

    w = Watch(dep, runners, hang_timeout=None)
    for event in w.run(): ...      # phase, progress, stall, failure, ready events; ends at ready or failure
    w.failure                      # the diagnosis Failure when it failed
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from sparkpilot.launcher import containers, executors, readiness
from sparkpilot.launcher.deployment import Deployment
from sparkpilot.launcher.events import Event
from sparkpilot.launcher.streams import Merged
from sparkpilot.transport.base import Runner

POLL_S = 0.25            # how often the loop looks at the clock, /health and container states
STATE_EVERY_S = 2.0
RAY_AT_READY_S = 30.0   # /health answered before Ray formation was seen: how long to ask for every GPU
_SHARDS_RE = re.compile(r"Loading safetensors checkpoint shards:\s*(\d+)% Completed \|\s*(\d+)/(\d+)")


def threshold(name: str, default: float) -> float:
    """A value from knowledge/launch.yaml (SPU001-SPU003)."""
    from sparkpilot import knowledge

    for t in knowledge.load("launch"):
        if t.get("name") == name and "value" in t:
            return float(t["value"])
    return default


def cause(phase: str) -> str:
    """The likely causes of a long phase (knowledge/launch.yaml, SPU010-)."""
    from sparkpilot import knowledge

    return next((str(t["causes"]) for t in knowledge.load("launch") if t.get("phase") == phase), "")


class Watch:
    def __init__(self, dep: Deployment, runners: dict[int, Runner], hang_timeout: float | None = None,
                 driver_version: str | None = None, ready_timeout: float | None = None,
                 logs: bool = False, clock=time.monotonic):
        from sparkpilot.diagnosis import LiveDiagnosis
        from sparkpilot.timescale import time_scale

        self.dep, self.runners, self.clock = dep, runners, clock
        self.live = LiveDiagnosis(driver_version=driver_version, clock=clock)
        self.live.source_order = [n.name for n in dep.nodes]
        self.hang_timeout = hang_timeout
        self.scale = time_scale()
        # not scaled: SPARKPILOT_TIME_SCALE speeds up replayed logs, not docker, Python imports or Ray
        self.floor = threshold("phase-floor", 60.0)
        self.stall_factor = threshold("stall-factor", 1.5)
        self.hang_factor = threshold("hang-factor", 3.0)
        self.ready_timeout = ready_timeout
        self.logs = logs
        self.failure: Any = None
        self.failed_node: str | None = None
        self.timed_out = False                         # failed at --timeout (not a diagnosed failure)
        self.phase: str | None = "container_start"   # the containers were just started: hang detection
        self.phase_since = clock()                     # runs even before a node prints its first line
        self.started = clock()
        self.ready_at: float | None = None
        self._stalled: set[str] = set()
        self._ended: set[str] = set()
        self.merged = Merged()
        self.shards: tuple[int, int] | None = None
        self.ray: executors.RayFormation | None = None

    def expected(self, phase: str) -> float:
        return max(self.dep.eta.get(phase, 0.0), self.floor)

    def limit(self, phase: str) -> float:
        return self.hang_timeout if self.hang_timeout else self.expected(phase) * self.hang_factor

    def start_streams(self) -> None:
        for node in self.dep.nodes:
            self.merged.add(node.name, self.runners[node.rank], containers.logs_argv(self.dep.container))

    def _ray_at_ready(self, ray: executors.RayFormation) -> Iterator[Event]:
        """/health answers before up saw every node's GPU in Ray (its question was still out): ask
        until they are (a real vLLM on Ray is ready only with them: one question), else say so."""
        gpus = ray.settle(RAY_AT_READY_S)
        n = len(self.dep.nodes)
        if gpus is not None:
            yield Event("phase", f"Ray cluster formed: {gpus:g} GPUs on {n} nodes", phase="ray_cluster",
                        data={"gpus": gpus, "ray_status_asked": ray.asked})
        else:
            seen = ray.short
            yield Event("check", f"vLLM answers /health but Ray lists {seen if seen is not None else 'no'} GPU(s) "
                                 f"of the {n} nodes' within {RAY_AT_READY_S:.0f} s: `docker exec "
                                 f"{self.dep.container} ray status` on the head",
                        node=self.dep.head.name, data={"status": "warn", "name": "ray-cluster", "gpus": seen})

    # ------------------------------------------------------------------ the loop
    def run(self) -> Iterator[Event]:
        self.start_streams()
        last_state = self.clock()
        health_next = self.clock()
        asked_ready = False
        ray = executors.RayFormation(self.runners[0], self.dep.container, [n.name for n in self.dep.nodes],
                                     clock=self.clock) if self.dep.executor == "ray" else None
        self.ray = ray
        try:
            while True:
                item = self.merged.get(POLL_S)
                if item is not None:
                    yield from self._line(*item)
                    while True:   # drain what is there before looking at the clock
                        more = self.merged.queue.get_nowait() if not self.merged.queue.empty() else None
                        if more is None:
                            break
                        yield from self._line(*more)
                if self.failure is not None:
                    return
                now = self.clock()
                yield from self._hang(now)
                if self.failure is not None:
                    return
                if now - last_state >= STATE_EVERY_S or len(self._ended) > 0:
                    last_state = now
                    yield from self._states()
                    if self.failure is not None:
                        return
                if ray is not None:
                    gpus = ray.poll()
                    if gpus is not None:
                        yield Event("phase", f"Ray cluster formed: {gpus:g} GPUs on {len(self.dep.nodes)} nodes",
                                    phase="ray_cluster", data={"gpus": gpus, "ray_status_asked": ray.asked})
                # every 0.5 s from the API server's first line, and at once when the log says it is up
                if self.phase in ("api_server", "ready") and (now >= health_next or
                                                             (self.phase == "ready" and not asked_ready)):
                    health_next, asked_ready = now + 0.5, self.phase == "ready"
                    if readiness.health(self.runners[0], self.dep.port):
                        if ray is not None and not ray.formed:
                            yield from self._ray_at_ready(ray)
                        self.ready_at = now
                        if self.phase != "ready":   # /health answered before the log's line came through
                            self.phase, self.phase_since = "ready", now
                            yield Event("phase", "ready", node=self.dep.head.name, phase="ready",
                                        data={"eta_s": round(self.expected("ready"), 1),
                                              "elapsed_s": round(now - self.started, 2), "by": "/health"})
                        yield Event("ready", f"/health answers on {self.dep.endpoint_host()}:{self.dep.port}",
                                    data={"seconds": round(now - self.started, 2)})
                        return
                if self.ready_timeout and now - self.started > self.ready_timeout:
                    self.timed_out = True
                    self._fail_plain(self.dep.head.name, f"not ready after {self.ready_timeout:g} s (--timeout)")
                    yield self._failure_event()
                    return
        finally:
            self.merged.stop()

    def _line(self, node: str, line: str | None) -> Iterator[Event]:
        if line is None:
            self._ended.add(node)
            return
        if self.logs:
            yield Event("log", line, node=node)
        if self.ray is not None:
            self.ray.line(node, line)
        m = _SHARDS_RE.search(line)
        if m:
            done, total = int(m[2]), int(m[3])
            if self.shards != (done, total):
                self.shards = (done, total)
                gib = self.dep.plan.get("weights_gib_per_gpu")
                secs = self.clock() - self.phase_since if self.phase == "weight_loading" else 0.0
                rate = gib * done / total * 2**30 / secs / 1e9 if gib and total and secs > 0.5 and done else None
                left = secs * (total - done) / done if done and secs > 0.5 else None
                text = f"weights: shard {done}/{total}" + (f" of {gib:.1f} GiB" if gib else "") + \
                    (f", {rate:.2f} GB/s" if rate else "") + (f", ~{left:.0f} s left" if left else "")
                yield Event("progress", text, node=node, phase="weight_loading",
                            data={"shards_done": done, "shards_total": total, "weights_gib": gib,
                                  "gb_s": round(rate, 2) if rate else None,
                                  "eta_s": round(left, 1) if left is not None else None})
        for ev in self.live.feed(line, source=node):
            if ev.kind in ("phase", "ready") and ev.phase:
                self.phase, self.phase_since = ev.phase, self.clock()
                yield Event("phase", ev.phase.replace("_", " "), node=node, phase=ev.phase,
                            data={"eta_s": round(self.expected(ev.phase), 1),
                                  "elapsed_s": round(self.clock() - self.started, 2)})
            elif ev.kind == "failure" and ev.failure is not None:
                self.failure, self.failed_node = ev.failure, node
                yield self._failure_event()
                return

    def _hang(self, now: float) -> Iterator[Event]:
        phase = self.phase
        if phase is None or phase == "ready":
            return
        elapsed = now - self.phase_since
        expected = self.expected(phase)
        stall_at = min(expected * self.stall_factor, self.limit(phase) / 2)   # said before it fails
        if elapsed > stall_at and phase not in self._stalled:
            self._stalled.add(phase)
            yield Event("stall", f"{phase} has run {elapsed:.0f} s, expected about {expected:.0f} s: "
                                 f"probably hung. Likely: {cause(phase)}", phase=phase,
                        data={"elapsed_s": round(elapsed, 1), "expected_s": round(expected, 1),
                              "causes": cause(phase), "fails_at_s": round(self.limit(phase), 1)})
        if elapsed > self.limit(phase):
            self.failure = self._hang_failure(phase, elapsed, expected)
            yield Event("hang", self.failure.line or "", phase=phase, data={"elapsed_s": round(elapsed, 1)})
            yield self._failure_event()

    def _hang_failure(self, phase: str, elapsed: float, expected: float) -> Any:
        """Graph capture / profiling past the limit: cudagraph_hang (the 590.x deadlock, driver as
        evidence). Distributed init on several nodes: rank_never_joined. Else an unrecognised stall."""
        from sparkpilot.diagnosis import Failure, hang_failure
        from sparkpilot.diagnosis.signatures import by_name

        if phase in ("memory_profiling", "cudagraph_capture"):
            return hang_failure(phase, elapsed, expected, self.live.driver_version or
                                self.live.figures.get("driver_version"))
        line = f"phase {phase} running for {elapsed:.0f} s, past --hang-timeout {self.limit(phase):.0f} s " \
               f"(expected about {expected:.0f} s)"
        name = "rank_never_joined" if phase == "engine_init" and len(self.dep.nodes) > 1 else "unrecognised"
        sig = by_name(name)
        fix = sig.fix if name != "unrecognised" else f"Likely: {cause(phase)}; read `sparkpilot logs {self.dep.name}`."
        return Failure(cls=sig.name, id=sig.id, line=line, message=f"{phase} stalled. {cause(phase)}", fix=fix,
                       prevented_by=list(sig.prevented_by), evidence=[line], rank=sig.rank)

    def _states(self) -> Iterator[Event]:
        """A container that exited (or vanished) before ready is a failure: diagnose what it logged."""
        for node in self.dep.nodes:
            status, code = containers.state(self.runners[node.rank], self.dep.container)
            if status in ("running", "restarting", "created"):
                continue
            self._drain(1.0)
            result = self.live.result()
            failure = result.failure
            if failure is None:
                self._fail_plain(node.name, f"the container on {node.name} {status}"
                                 f"{f' with code {code}' if code is not None else ''} in "
                                 f"{self.phase or 'container_start'} without a known error line")
            else:
                self.failure, self.failed_node = failure, node.name
            yield self._failure_event()
            return

    def _drain(self, seconds: float) -> None:
        """Read what the streams still hold (the last lines of an exited container)."""
        end = self.clock() + seconds
        while self.clock() < end:
            item = self.merged.get(0.1)
            if item is None:
                if len(self._ended) >= len(self.dep.nodes):
                    return
                continue
            node, line = item
            if line is None:
                self._ended.add(node)
                continue
            self.live.feed(line, source=node)

    def _fail_plain(self, node: str, message: str) -> None:
        from sparkpilot.diagnosis import Failure

        self.failure = Failure(cls="unrecognised", id="", line=message, message=message,
                               fix=f"read the logs: sparkpilot logs {self.dep.name}", prevented_by=[],
                               evidence=[message], rank=0)
        self.failed_node = node

    def _failure_event(self) -> Event:
        f = self.failure
        data = f.to_dict() if hasattr(f, "to_dict") else {"class": str(f)}
        return Event("failure", f.message, node=self.failed_node, phase=self.phase, data={"failure": data})
