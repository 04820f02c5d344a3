"""Start-up phases (names from CONTRACTS.md) and the figures vLLM prints while it starts.

A phase begins at the first line that only that phase prints and ends where the next one begins,
or at a line that closes it ("Model loading took ...", "Graph capturing finished ...").
Phases only move forward: a late line of an earlier phase from another worker does not rewind.
The marker texts come from real logs (tests/data/logs, ../shared/data/logs) and vLLM's source.
"""

from __future__ import annotations

import ast
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
        global _MARKER_GATE
        if line.ts is not None:
            self.last_ts, self.last_ts_text = line.ts, line.ts_text
        text = line.text
        entered = None
        if _MARKER_GATE is None:
            _MARKER_GATE = Gate(rx for _, rx, _ in MARKERS)
        if not _MARKER_GATE.may_match(text):
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


# ----------------------------------------------------------------------------- figures
def _num(text: str) -> float:
    return float(text.replace(",", ""))


FIGURES: list[tuple[re.Pattern[str], Any]] = []


def figure(rx: str):
    def deco(fn):
        FIGURES.append((re.compile(rx), fn))
        return fn
    return deco


@figure(r"(?:Model loading|Loading model weights) took ([\d.]+) ?(GiB|GB)(?: memory)?(?: and ([\d.]+) ?s)?")
def _weights(m, f):
    f["weights_gib"] = _num(m[1])
    if m[3]:
        f["weights_load_seconds"] = round(_num(m[3]), 2)


@figure(r"Loading weights took ([\d.]+) seconds")
def _read_secs(m, f):
    f["weights_read_seconds"] = round(_num(m[1]), 2)


@figure(r"Time spent downloading weights for \S+: ([\d.]+) seconds")
def _download(m, f):
    f["weights_download_seconds"] = round(_num(m[1]), 2)


@figure(r"Checkpoint size: ([\d.]+) GiB")
def _ckpt(m, f):
    f["checkpoint_gib"] = _num(m[1])


@figure(r"Available KV cache memory: (-?[\d.]+) GiB")
def _kv_gib(m, f):
    f["available_kv_gib"] = _num(m[1])


@figure(r"kv_cache_size=(-?[\d.]+)GiB")
def _kv_gib_v0(m, f):
    f.setdefault("available_kv_gib", _num(m[1]))


@figure(r"reserved ([\d.]+) GiB memory for KV Cache")
def _kv_reserved(m, f):
    f.setdefault("available_kv_gib", _num(m[1]))


@figure(r"the rest of the memory reserved for KV Cache is (-?[\d.]+) ?GiB")
def _kv_rest(m, f):
    f.setdefault("available_kv_gib", _num(m[1]))


@figure(r"larger than the available KV cache memory \((-?[\d.]+) GiB\)")
def _kv_needed(m, f):
    f.setdefault("available_kv_gib", _num(m[1]))


@figure(r"the estimated maximum model length is (\d+)")
def _est_mml(m, f):
    f["estimated_max_model_len"] = int(m[1])


@figure(r"model weights take ([\d.]+) ?GiB")
def _weights_take(m, f):
    f.setdefault("weights_gib", _num(m[1]))


@figure(r"CUDA graph pool memory: (-?[\d.]+) GiB \(actual\)")
def _graph_pool(m, f):
    f.setdefault("graph_capture_gib", _num(m[1]))


@figure(r"GPU KV cache size: ([\d,]+) tokens")
def _kv_tokens(m, f):
    f["kv_cache_tokens"] = int(_num(m[1]))


@figure(r"# (?i:GPU|cuda) blocks: (\d+)")
def _blocks(m, f):
    f["gpu_blocks"] = int(m[1])


@figure(r"maximum number of tokens that can be stored in KV cache \((\d+)\)")
def _kv_tokens_v0(m, f):
    f.setdefault("kv_cache_tokens", int(m[1]))


@figure(r"Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x")
def _conc(m, f):
    f["max_concurrency"] = _num(m[2])
    f["max_concurrency_tokens_per_request"] = int(_num(m[1]))


@figure(r"Graph capturing finished in ([\d.]+) secs?(?:, took (-?[\d.]+) GiB)?")
def _graph(m, f):
    f["graph_capture_seconds"] = _num(m[1])
    if m[2]:
        f["graph_capture_gib"] = _num(m[2])


@figure(r"init engine (?:\(profile, create kv cache, warmup model\) )?took ([\d.]+) s")
def _init(m, f):
    f["init_engine_seconds"] = _num(m[1])


@figure(r"torch\.compile takes ([\d.]+) s in total")
def _compile(m, f):
    f["torch_compile_seconds"] = _num(m[1])


@figure(r"(?:█\s+version|vLLM API server version|LLM engine \(v|^vLLM Version) ?(\d+\.\d+\.\d+[\w.+\-]*)")
def _version(m, f):
    f.setdefault("vllm_version", m[1].rstrip(")"))


@figure(r"^NVIDIA Release ([\d.]+)")
def _image(m, f):
    f["ngc_release"] = m[1]


@figure(r"kernel driver version (\d+(?:\.\d+)+)")
def _driver(m, f):
    f["driver_version"] = m[1]


@figure(r"Using CUDA ([\d.]+) driver version ([\d.]+)")
def _cuda(m, f):
    f["cuda_version"] = m[1]


@figure(r"(?:NCCL version (\d[\w.+]*)|vLLM is using nccl==([\d.]+))")
def _nccl(m, f):
    f.setdefault("nccl_version", m[1] or m[2])


@figure(r"Resolved architecture: (\w+)")
def _arch(m, f):
    f["architecture"] = m[1]


@figure(r"Using max model len (\d+)")
def _mml(m, f):
    f["max_model_len"] = int(m[1])


@figure(r"model\s{2,}(\S+)\s*$")
def _banner_model(m, f):
    f.setdefault("model", m[1])


@figure(r"non-default args: (\{.*)")
def _args(m, f):
    args = parse_args_dict(m[1])
    if args:
        f["non_default_args"] = args
        if "model" in args:
            f["model"] = args["model"]


_FIGURE_GATE: Gate | None = None
_MARKER_GATE: Gate | None = None


def extract_figures(text: str, figures: dict[str, Any]) -> None:
    global _FIGURE_GATE
    if not text or not any(ch.isdigit() for ch in text):
        return
    if _FIGURE_GATE is None:
        _FIGURE_GATE = Gate(rx for rx, _ in FIGURES)
    if not _FIGURE_GATE.may_match(text):
        return
    for rx, fn in FIGURES:
        m = rx.search(text)
        if m:
            try:
                fn(m, figures)
            except (ValueError, IndexError, TypeError):
                pass


def finish_figures(figures: dict[str, Any]) -> dict[str, Any]:
    """GB/s of the weight load: the read time when vLLM printed it, else the load time less any download."""
    gib = figures.get("weights_gib")
    secs = figures.get("weights_read_seconds")
    if not secs and figures.get("weights_load_seconds"):
        secs = figures["weights_load_seconds"] - figures.get("weights_download_seconds", 0.0)
    if gib and secs and secs > 0:
        figures["weights_load_gb_per_s"] = round(gib * 1.073741824 / secs, 2)
    return figures


def parse_args_dict(text: str) -> dict[str, Any]:
    """Parse vLLM's `non-default args: {...}` (a repr that may hold objects, and may be truncated)."""
    items: dict[str, Any] = {}
    depth, quote, start = 0, "", 1
    body = text.strip()
    if not body.startswith("{"):
        return items
    parts: list[str] = []
    for i, ch in enumerate(body):
        if quote:
            if ch == quote and body[i - 1] != "\\":
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
            if depth == 0:
                parts.append(body[start:i])
                break
        elif ch == "," and depth == 1:
            parts.append(body[start:i])
            start = i + 1
    else:
        parts.append(body[start:])  # truncated: keep what is complete
    for part in parts:
        key, sep, value = part.partition(":")
        key, value = key.strip().strip("'\""), value.strip()
        if not sep or not key.isidentifier():
            continue
        try:
            items[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            items[key] = value
    return items
