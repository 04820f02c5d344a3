"""Read a vLLM start-up log: phases, figures, failure, outcome.

    d = diagnose(text)                   # one log
    d = diagnose_many([("spark-1", a), ("spark-2", b)])   # several logs of one multi-node start

Live, for `up`:
    live = LiveDiagnosis(driver_version="580.126.09")      # driver from doctor's facts, if known
    for ev in live.feed(line, source="spark-1"):           # as lines arrive (a chunk is fine too)
        ev.kind in ("phase", "ready", "failure")           # a failure the moment its line appears
    ev = live.check_hang(now=None, expected_phase_seconds=plan["startup_eta_s"])  # hang / stall
    live.result()                                          # the Diagnosis so far
Phase times come from `now` when given, else a `docker logs -t` stamp, else time.monotonic();
expected seconds are in the run's time (plan's startup_eta_s is already scaled by
SPARKPILOT_TIME_SCALE).

Outcome words (CONTRACTS.md): `ready`, `failed`, `incomplete` (stopped before ready, no failure).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from sparkpilot.words import Outcome
from sparkpilot.diagnosis import signatures as sigs
from sparkpilot.diagnosis.lines import Line, is_bare_timestamp, parse_line, split_lines, with_year, year_of
from sparkpilot.diagnosis.figures import extract_figures, finish_figures
from sparkpilot.diagnosis.phases import PHASES, Phase, PhaseTracker
from sparkpilot.diagnosis.signatures import Failure

CASCADE_RANK = 20        # worker_lost and below: a consequence whose cause is logged before it
HANG_FACTOR = 3.0        # a phase is hung when it runs this many times its expected length ...
HANG_MIN_EXTRA_S = 120.0  # ... and at least this much longer (real seconds, before scaling)
HANG_PHASES = ("memory_profiling", "cudagraph_capture")  # where the 590.x graph deadlock shows
# Expected real-world seconds per phase when no plan is at hand: the reference's start-up table
# (two-node Qwen3-235B: Ray ~2 min, weights ~7 min, CUDA graph capture + compile ~5 min).
REFERENCE_PHASE_SECONDS = {"ray_cluster": 120.0, "weight_loading": 420.0, "memory_profiling": 300.0,
                           "cudagraph_capture": 300.0}
START_RES = [re.compile(r"vLLM API server version \d"), re.compile(r"█\s+version \d"),
              re.compile(r"^NVIDIA Release \d")]  # each printed once per start


def time_scale() -> float:
    """SPARKPILOT_TIME_SCALE through sparkpilot.timescale (the same factor plan and up use)."""
    try:
        from sparkpilot.timescale import time_scale as shared
    except ImportError:  # pragma: no cover - the shared helper is part of the package
        return 1.0
    return shared()


@dataclass
class Event:
    kind: str                     # phase | ready | failure | hang | stall
    phase: str | None = None
    failure: Failure | None = None
    line: str | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "phase": self.phase, "line": self.line, "message": self.message,
                "failure": self.failure.to_dict() if self.failure else None}


@dataclass
class Diagnosis:
    outcome: Outcome
    failure: Failure | None
    phases: list[Phase]
    figures: dict[str, Any]
    stopped_in: str | None = None
    lines: int = 0
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "failure": self.failure.to_dict() if self.failure else None,
                "phases": [p.to_dict() for p in self.phases], "figures": self.figures,
                "stopped_in": self.stopped_in, "lines": self.lines, "sources": self.sources,
                "notes": self.notes}


class LiveDiagnosis:
    """Feed lines as they arrive; a failure is reported as soon as its line appears."""

    def __init__(self, driver_version: str | None = None, clock=time.monotonic) -> None:
        self.tracker = PhaseTracker()             # the start as a whole (all nodes' lines)
        self.figures: dict[str, Any] = {}
        self._per_source: dict[str, tuple[PhaseTracker, dict[str, Any]]] = {}  # several node logs
        self.driver_version = driver_version
        self.clock = clock
        self.count = 0
        self.logged = 0  # lines in a logger's format (vLLM, uvicorn, Ray, ...): 0 = not a log at all
        self._matches: list[Failure] = []          # known signatures, in log order
        self._pending: list[tuple[sigs.Signature, Line]] = []  # matched, waiting for `needs` context
        self._context_seen: set[str] = set()
        self._first_error: Line | None = None
        self._recent: list[Line] = []  # the last lines, to join messages wrapped over several
        self._root_errors: list[Line] = []  # exception lines (rank 3) no signature knows
        self._first_error_rank = 0
        self._late_error: Line | None = None
        self._ready_index: int | None = None  # the line that showed the server ready
        self._starts: dict[tuple[str | None, int], int] = {}  # starts per (source, marker): restarts
        self._reported: set[str] = set()
        self._phase_since: float | None = None
        self._since_is_wall = False  # phase times came from `docker logs -t` (epoch), not self.clock
        self._hung: set[str] = set()
        self._sources: list[str] = []
        self._year: int | None = None  # the year year-full lines show, for year-less vLLM times
        self.source_order: list[str] = []  # the order the logs were given in (head first)

    # ---------------------------------------------------------------- feeding
    def feed(self, text: str, source: str | None = None, now: float | None = None) -> list[Event]:
        """Feed one line (or a chunk with newlines). Returns what it changed: phases, a failure."""
        events: list[Event] = []
        for piece in split_lines(text if isinstance(text, str) else str(text)):
            line = parse_line(piece, self.count, source)
            self.count += 1
            events.extend(self.feed_line(line, now))
        return events

    def feed_line(self, line: Line, now: float | None = None) -> list[Event]:
        events: list[Event] = []
        if line.source and line.source not in self._sources:
            self._sources.append(line.source)
        text = line.text
        if not text:
            return events
        if is_bare_timestamp(text):  # consoles that print the time on its own line
            return events
        if line.level is not None or line.ts is not None:
            self.logged += 1
        if line.ts is not None and self._year is None:  # the first time decides the clock
            self._year = (year_of(line) or 0) if line.year_known else 0
        with_year(line, self._year)
        for kind, rx in enumerate(START_RES):
            if rx.search(text):
                key = (line.source, kind)
                self._starts[key] = self._starts.get(key, 0) + 1
        extract_figures(text, self.figures)
        if line.source is not None:
            tracker, figs = self._per_source.setdefault(line.source, (PhaseTracker(auto_next=False), {}))
            tracker.feed(line)
            extract_figures(text, figs)
        entered = self.tracker.feed(line)
        if entered:
            self._phase_since = now if now is not None else line.wall if line.wall is not None else self.clock()
            self._since_is_wall = now is None and line.wall is not None
            event_kind = "ready" if entered == "ready" else "phase"
            if entered == "ready":
                self._ready_index = line.index
            events.append(Event(event_kind, entered, line=sigs.display(line), message=f"entered {entered}"))
        before = len(self._matches)
        events.extend(self._match(line))
        rank = sigs.error_rank(line)
        if rank == 3 and len(self._matches) == before and not any(
                sig.patterns and sig.match(text) for sig in sigs.signatures()):
            self._root_errors.append(line)
        if self.tracker.current == "ready":
            # an unknown error once the server is up (a bad request) does not fail the launch
            if rank and self._late_error is None:
                self._late_error = line
        elif rank > self._first_error_rank:
            self._first_error, self._first_error_rank = line, rank
        return events

    def _match(self, line: Line) -> list[Event]:
        events: list[Event] = []
        joined = self._joined(line)
        if not sigs.may_match(line.text):
            if joined is None or not sigs.may_match(joined.text):
                return events
            line = joined  # a message someone wrapped over lines: match it whole
        elif joined is not None and not any(sig.patterns and sig.match(line.text) for sig in sigs.signatures()):
            line = joined
        for sig in sigs.signatures():
            if sig.needs and any(rx.search(line.text) for rx in sig.needs):
                self._context_seen.add(sig.name)
        newly_ok = [(s, ln) for s, ln in self._pending if s.name in self._context_seen]
        self._pending = [(s, ln) for s, ln in self._pending if s.name not in self._context_seen]
        hits = list(newly_ok)
        for sig in sigs.signatures():
            if sig.patterns and sig.match(line.text):
                if sig.needs and sig.name not in self._context_seen:
                    self._pending.append((sig, line))
                else:
                    hits.append((sig, line))
        for sig, hit in hits:
            same = [f for f in self._matches if f.cls == sig.name]
            if same:
                first, shown = same[0], sigs.display(hit)
                first.rank = max(first.rank, sig.rank_of(hit.text))
                if sigs.error_rank(hit) == 3 and first.primary_rank < 3:
                    # show the exception, not the source line that raised it
                    if first.line in first.evidence and sigs.is_code_line(first.line or ""):
                        first.evidence.remove(first.line)
                    first.line, first.primary_rank = shown, 3
                    first.evidence.insert(0, shown)
                elif len(first.evidence) < 3 and shown not in first.evidence and not sigs.is_code_line(hit.text):
                    first.evidence.append(shown)
                del first.evidence[3:]
                continue
            failure = sigs.failure_from(sig, hit)
            failure.rank = sig.rank_of(hit.text)
            failure.primary_rank = sigs.error_rank(hit)
            self._matches.append(failure)
            best = self.best_failure()
            if best is failure and sig.name not in self._reported:
                self._reported.add(sig.name)
                events.append(Event("failure", self.tracker.current, failure, failure.line, failure.message))
        return events

    def _joined(self, line: Line) -> Line | None:
        """The line with the one or two before it, when it continues them (a message wrapped by
        whoever quoted it: no level, no time of its own, the line before not a frame line)."""
        prev = self._recent[-2:]
        self._recent.append(line)
        del self._recent[:-3]
        if line.level is not None or line.ts is not None or not prev or sigs.is_frame_line(line.text):
            return None
        parts = [p for p in prev if p.source == line.source and p.text and not sigs.is_frame_line(p.text)]
        if not parts or parts[-1] is not prev[-1]:
            return None
        if any(sig.patterns and sig.match(p.text) for p in parts for sig in sigs.signatures()):
            return None  # the line before is a whole message already: this one is not its tail
        text = " ".join(p.text.strip() for p in [*parts, line])
        raw = " ".join(p.raw.strip() for p in [*parts, line])
        return Line(raw=raw, text=text, level=parts[0].level, ts=parts[0].ts, ts_text=parts[0].ts_text,
                    source=line.source, index=parts[0].index)

    # ---------------------------------------------------------------- judging
    def best_failure(self) -> Failure | None:
        if not self._matches:
            return None
        return sorted(self._matches, key=lambda f: (-f.rank, f.index))[0]

    def check_hang(self, now: float | None = None,
                   expected_phase_seconds: float | Mapping[str, float] | None = None) -> Event | None:
        """A hang when the current phase runs far past its expected seconds.

        `expected_phase_seconds` is the estimate for the current phase (a number) or per phase (a
        mapping such as plan's `startup_eta_s`), in the run's own time: already scaled by
        SPARKPILOT_TIME_SCALE, as plan's estimates are. The fixed margin is scaled here.
        """
        phase = self.tracker.current
        if phase is None or phase == "ready" or self._phase_since is None or phase in self._hung:
            return None
        if isinstance(expected_phase_seconds, Mapping):
            expected = expected_phase_seconds.get(phase)
        else:
            expected = expected_phase_seconds
        if not expected or expected <= 0:
            return None
        if now is None:
            now = time.time() if self._since_is_wall else self.clock()
        elapsed = now - self._phase_since
        limit = max(expected * HANG_FACTOR, expected + HANG_MIN_EXTRA_S * time_scale())
        if elapsed <= limit:
            return None
        self._hung.add(phase)
        expected = float(expected)
        if phase in HANG_PHASES:
            driver = self.driver_version or self.figures.get("driver_version")
            failure = sigs.hang_failure(phase, elapsed, expected, driver)
            compat = self.figures.get("compat_driver_version")
            if compat and compat.split(".")[0] == "590":
                failure.evidence.append(f"the container runs CUDA forward compatibility with the 590.x user-mode "
                                        f"driver {compat} (kernel driver {driver or 'unknown'})")
            self._matches.append(failure)
            return Event("hang", phase, failure, failure.line, failure.message)
        return Event("stall", phase, None, None,
                     f"{phase} has run {elapsed:.0f} s, {elapsed / expected:.1f}x the expected "
                     f"{expected:.0f} s (slow disk or network, or a stuck process)")

    def result(self) -> Diagnosis:
        phases = self.tracker.finish()
        if len(self._per_source) > 1:
            phases = self._merged_phases()
        failure = self.best_failure()
        if failure is not None and failure.rank <= CASCADE_RANK:
            # a cascade ("see root cause above") with an exception no signature knows before it:
            # that exception is the root cause, shown as unrecognised
            roots = [ln for ln in self._root_errors if ln.index < failure.index]
            if roots:
                failure = self._unrecognised(roots[-1])
        if failure is None and self._first_error is not None:
            failure = self._unrecognised(self._first_error)
        early: Failure | None = None
        if failure is not None and self._ready_index is not None and 0 <= failure.index < self._ready_index \
                and failure.cls not in ("cudagraph_hang",):
            # an error before the server came up that did not stop it (or an earlier, failed start)
            early, failure = failure, None
            later = [f for f in self._matches if f.index > self._ready_index]
            if later:
                failure = sorted(later, key=lambda f: (-f.rank, f.index))[0]
        figures = finish_figures(dict(self.figures))
        if len(self._per_source) > 1:
            # the first log given (the head) speaks for the start; every node's own figures are kept
            nodes = {src: finish_figures(dict(figs)) for src, (_, figs) in self._per_source.items()}
            first = self.source_order[0] if self.source_order else next(iter(nodes))
            figures = {**figures, **nodes.get(first, {}), "nodes": nodes}
        if failure is not None:
            sigs.apply_variant(failure)
            args = figures.get("non_default_args") or {}
            if failure.cls == "max_model_len_too_long" and figures.get("estimated_max_model_len"):
                failure.fix = f"{failure.fix} vLLM estimates that {figures['estimated_max_model_len']} tokens fit."
            if failure.cls == "oom_at_startup" and "gpu_memory_utilization" in args:
                failure.message = (f"{failure.message} This launch used --gpu-memory-utilization "
                                   f"{args['gpu_memory_utilization']}.")
        current = self.tracker.current
        if failure is not None:
            outcome: Outcome = "failed"
        elif current == "ready":
            outcome = "ready"
        else:
            outcome = "incomplete"
        notes = []
        if early is not None:
            notes.append(f"{early.cls} was logged before the server came up, and it came up anyway "
                         f"(a restart, or a non-fatal error): {early.line}")
        restarts = max(self._starts.values(), default=0)
        if restarts > 1:
            notes.append(f"this log holds {restarts} starts (a restarting container?): its phases and "
                         "figures mix them")
        if outcome == "ready" and self._late_error is not None:
            notes.append(f"an error after the server was ready (a request, not the start): "
                         f"{sigs.display(self._late_error)}")
        return Diagnosis(outcome=outcome, failure=failure, phases=phases,
                         figures=figures,
                         stopped_in=None if outcome == "ready" else current,
                         lines=self.count, sources=list(self._sources), notes=notes)

    def _merged_phases(self) -> list[Phase]:
        """Per phase over all nodes: from the first node that entered it to the last that left it."""
        merged: dict[str, Phase] = {}
        for tracker, _ in self._per_source.values():
            for p in tracker.finish():
                m = merged.setdefault(p.name, Phase(p.name))
                if p.start is not None and (m.start is None or p.start < m.start):
                    m.start, m.start_text = p.start, p.start_text
                if p.end is not None and (m.end is None or p.end > m.end):
                    m.end, m.end_text = p.end, p.end_text
        return [merged[name] for name in PHASES if name in merged]

    @staticmethod
    def _unrecognised(line: Line) -> Failure:
        sig = sigs.by_name("unrecognised")
        return sigs.failure_from(sig, line)


# ----------------------------------------------------------------------------- batch
def diagnose(text: str, source: str | None = None) -> Diagnosis:
    live = LiveDiagnosis()
    live.feed(text, source=source)
    return live.result()


def merge(logs: Iterable[tuple[str, str]]) -> list[Line]:
    """Lines of several logs of one start, in time order (lines without a time keep their place)."""
    keyed: list[tuple[float, int, int, Line]] = []
    files = [(label, [parse_line(raw, 0, label) for raw in split_lines(text)]) for label, text in logs]
    firsts = [next((ln for ln in lines if ln.ts is not None), None) for _, lines in files]
    year = 0 if any(f is not None and not f.year_known for f in firsts) else next(
        (year_of(f) for f in firsts if f is not None), None)
    for file_no, (_label, parsed) in enumerate(files):
        parsed = [with_year(ln, year) for ln in parsed]
        first = next((ln.ts for ln in parsed if ln.ts is not None), None)
        last = first if first is not None else float("inf")
        for i, line in enumerate(parsed):
            if line.ts is not None:
                last = line.ts
            keyed.append((last, file_no, i, line))
    keyed.sort(key=lambda item: (item[0], item[1], item[2]) if item[0] != float("inf")
               else (float("inf"), item[1], item[2]))
    out = []
    for n, (_, _, _, line) in enumerate(keyed):
        line.index = n
        out.append(line)
    return out


def diagnose_many(logs: list[tuple[str, str]]) -> Diagnosis:
    if len(logs) == 1:
        return diagnose(logs[0][1])
    live = LiveDiagnosis()
    live.source_order = [label for label, _ in logs]
    for line in merge(logs):
        live.count += 1
        live.feed_line(line)
    return live.result()


__all__ = ["PHASES", "Diagnosis", "Event", "LiveDiagnosis", "diagnose", "diagnose_many", "merge", "time_scale"]
