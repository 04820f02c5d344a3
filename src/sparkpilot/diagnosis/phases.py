"""Start-up phases (names from CONTRACTS.md): where a start is and how long each part took.

A phase begins at the first line that only that phase prints and ends where the next one begins,
or at a line that closes it ("Model loading took ...", "Graph capturing finished ...").
Phases only move forward: a late line of an earlier phase from another worker does not rewind.
The marker texts come from real logs (tests/data/logs, ../shared/data/logs) and vLLM's source.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from sparkpilot.diagnosis.gate import Gate
from sparkpilot.diagnosis.lines import Line

PHASES = ("container_start", "ray_cluster", "engine_init", "weight_loading", "memory_profiling",
          "cudagraph_capture", "api_server", "ready")
ORDER = {name: i for i, name in enumerate(PHASES)}

# (phase, regex, closes): a line matching `regex` puts the start in `phase`; with closes=True it
# ends `phase` there and the next phase starts at that moment.
MARKERS: list[tuple[str, re.Pattern[str], bool]] = [(p, re.compile(rx), c) for p, rx, c in [
    ("container_start", r"^(?:NVIDIA Release \d|== ?CUDA ?==|CUDA Version \d|vLLM Version \d|NOTE: CUDA Forward Compatibility"
                        r"|Container image Copyright)", False),
    ("ray_cluster", r"(?:Started a local Ray instance|Connecting to existing Ray cluster|Ray runtime started"
                    r"|Local node IP: |Connected to Ray cluster|set in the environment variable RAY_ADDRESS"
                    r"|Started Ray on this node)", False),
    ("engine_init", r"(?:vLLM API server version|non-default args:|^args: Namespace\(|Initializing an? (?:V1 )?LLM engine"
                    r"|Resolved architecture:|Automatically detected platform|Using max model len"
                    r"|distributed_init_method=|NCCL INFO Bootstrap|vLLM is using nccl==|█\s+version \d"
                    r"|^usage: vllm |DP group leader:|\bNCCL (?:INFO|WARN)\b|\bin init_device$"
                    r"|on startup is less than desired GPU memory)", False),
    ("weight_loading", r"(?:Starting to load model|Loading safetensors checkpoint shards|Loading safetensors using"
                       r"|Loading pt checkpoint shards|Loading weights took|Filesystem type for checkpoints"
                       r"|File \"[^\"]*/(?:model_loader|fastsafetensors)/|, in (?:load_weights|load_model)$)", False),
    ("weight_loading", r"(?:Model loading took|Loading model weights took)", True),
    ("memory_profiling", r"(?:torch\.compile takes|Dynamo bytecode transform|Using cache directory: .*torch_compile"
                         r"|Compiling a graph for|Memory profiling (?:results|takes)|Available KV cache memory"
                         r"|GPU KV cache size|# GPU blocks:|Maximum concurrency for|Profiling CUDA graph memory"
                         r"|Estimated CUDA graph memory|Initial free memory .* (?:reserved|GiB)"
                         r"|No available memory for the cache blocks|determine_num_available_blocks"
                         r"|maximum number of tokens that can be stored in KV cache|To serve at least one request)", False),
    ("cudagraph_capture", r"(?:Capturing (?:CUDA graph|cudagraphs|the model for CUDA graphs)|Warming up|Autotuning)",
     False),
    ("cudagraph_capture", r"(?:Graph capturing finished|init engine \(profile, create kv cache, warmup model\) took"
                          r"|^init engine took)", True),
    ("api_server", r"(?:Starting vLLM (?:API )?server|Available routes are|Supported tasks:|Started server process"
                   r"|Waiting for application startup)", False),
    ("ready", r"(?:Application startup complete|\"GET /health HTTP/1\.[01]\" 200)", False),
]]


DURATION_RE = re.compile(r"(?:GiB(?: memory)? and |finished in )([\d.]+) ?s")


def format_ts(ts: float, like: str) -> str:
    """A clock value back in the log's own style (`MM-DD HH:MM:SS`, with the year when it had one)."""
    from datetime import datetime

    when = datetime.fromtimestamp(ts)
    text = when.strftime("%m-%d %H:%M:%S")
    if like[:4].isdigit() and like[4:5] == "-":
        text = when.strftime("%Y-") + text
    return text


@functools.cache
def _marker_gate() -> Gate:
    return Gate(rx for _, rx, _ in MARKERS)


@dataclass
class Phase:
    name: str
    start: float | None = None
    end: float | None = None
    start_text: str | None = None
    end_text: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return round(max(0.0, self.end - self.start), 2)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start": self.start_text, "end": self.end_text, "seconds": self.seconds}


class PhaseTracker:
    """Feed lines in order; `current` is the phase the start is in."""

    def __init__(self, auto_next: bool = True) -> None:
        self.auto_next = auto_next  # a closing line opens the next phase (off for one node of several)
        self.phases: list[Phase] = []
        self.last_ts: float | None = None
        self.last_ts_text: str | None = None

    @property
    def current(self) -> str | None:
        return self.phases[-1].name if self.phases else None

    def _open(self, name: str, ts: float | None, ts_text: str | None) -> None:
        if ts is None and self.last_ts is not None:  # a line without a time: the last time seen
            ts, ts_text = self.last_ts, self.last_ts_text
        if self.phases and self.phases[-1].end is None:
            self.phases[-1].end, self.phases[-1].end_text = ts, ts_text
        self.phases.append(Phase(name, ts, None, ts_text, None))

    def _backdate(self, name: str, text: str) -> None:
        """A phase first seen at its closing line that states its length starts that long before."""
        phase = self.phases[-1] if self.phases and self.phases[-1].name == name else None
        m = DURATION_RE.search(text)
        if phase is None or m is None or phase.start is None:
            return
        phase.start = phase.start - float(m[1])
        phase.start_text = format_ts(phase.start, phase.end_text or "")
        if len(self.phases) > 1:
            prev = self.phases[-2]
            if prev.end is not None and prev.end > phase.start and (prev.start is None or prev.start <= phase.start):
                prev.end, prev.end_text = phase.start, phase.start_text

    def feed(self, line: Line) -> str | None:
        """Returns the name of a phase entered by this line, or None."""
        if line.ts is not None:
            self.last_ts, self.last_ts_text = line.ts, line.ts_text
        text = line.text
        entered = None
        if not _marker_gate().may_match(text):
            if self.current == "ready" and self.phases[-1].end is None:
                self.phases[-1].end, self.phases[-1].end_text = self.phases[-1].start, self.phases[-1].start_text
            return None
        for name, rx, closes in MARKERS:
            if not rx.search(text):
                continue
            cur = self.current
            if cur is None or ORDER[name] > ORDER[cur]:
                self._open(name, line.ts, line.ts_text)
                entered = name
                cur = name
                if closes:
                    self._backdate(name, text)
            if closes and not self.auto_next and cur == name and self.phases[-1].end is None:
                self.phases[-1].end, self.phases[-1].end_text = line.ts, line.ts_text
            if closes and self.auto_next and cur == name and ORDER[name] + 1 < len(PHASES):
                nxt = PHASES[ORDER[name] + 1]
                self._open(nxt, line.ts, line.ts_text)
                entered = nxt
            break
        if self.current == "ready" and self.phases[-1].end is None:  # ready is a moment
            self.phases[-1].end, self.phases[-1].end_text = self.phases[-1].start, self.phases[-1].start_text
        return entered

    def finish(self) -> list[Phase]:
        """Close the last phase at the last timestamp seen (a log that stops mid-phase)."""
        if self.phases and self.phases[-1].end is None and self.phases[-1].start is not None:
            self.phases[-1].end, self.phases[-1].end_text = self.last_ts, self.last_ts_text
        return self.phases
