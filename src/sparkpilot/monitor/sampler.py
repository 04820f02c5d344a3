"""The per-node sampler: one remote `sh` loop per node, streamed back over one kept-open runner.

Each node runs ONE shell process for the whole watch (no SSH connection and no new session per
sample). Every `interval` seconds it prints a frame:

    ##sparkpilot frame        (the collector stamps it with its own clock when it arrives)
    ##sparkpilot apps         nvidia-smi --query-compute-apps (every APPS_EVERY frames)
    ##sparkpilot files        ONE `grep -H ""` over: the latest line of the looping nvidia-smi
                              (--query-gpu) and of tegrastats, /proc/meminfo, /proc/pressure/memory,
                              /sys/class/thermal zones (type, temp), /sys/class/net/en*np*
                              {operstate,speed,mtu,statistics/*}, /sys/class/infiniband/*/ports/*
                              {state,rate,counters,hw_counters}; split back by path (split_files)
    ##sparkpilot vllm RC      the vLLM server's /metrics (its families that sparkpilot reads)
    ##sparkpilot end

A frame costs the node three process starts (grep, curl, grep) plus the sleep: a process per
source would cost it several times more.

nvidia-smi and tegrastats loop by themselves (`-lms`, `--interval`) in the background, each
writing its latest line to a file that the frame prints: a nvidia-smi process per sample would
cost the node more than everything else together. Files are read as ${SPARKPILOT_HOST_ROOT:-}/path
(as the probes do); /sys/class/net is the host's own (a simulated node's ports are real veths).
When the stream is closed the remote loop dies on its next write (SIGPIPE) and its trap ends the
background loops (a sampler killed outright leaves its folder, named by its pid; the next
sampler on that host removes the folders of dead pids).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

MARK = "##sparkpilot "

# nvidia-smi fields, in this order (csv,noheader,nounits); the parser reads them by position
GPU_FIELDS = ("temperature.gpu", "power.draw", "clocks.sm", "clocks.max.sm", "clocks_event_reasons.active",
              "utilization.gpu", "pstate")
GPU_ARGV = ("nvidia-smi", "--query-gpu=" + ",".join(GPU_FIELDS), "--format=csv,noheader,nounits")
APPS_ARGV = ("nvidia-smi", "--query-compute-apps=pid,process_name,used_memory", "--format=csv,noheader,nounits")
# the tool calls of a 1-second sampler, by id (the simulated cluster's stand-ins answer exactly these)
TOOL_ARGVS = {"monitor-gpu": (*GPU_ARGV, "-lms", "1000"), "monitor-apps": APPS_ARGV}
APPS_EVERY = 5

# the vLLM families the monitor reads and re-exports (names as vLLM's own Grafana dashboard uses them)
VLLM_FAMILIES = (
    "num_requests_running", "num_requests_waiting", "kv_cache_usage_perc", "gpu_cache_usage_perc",
    "generation_tokens", "prompt_tokens", "request_success", "num_preemptions",
    "time_to_first_token_seconds", "inter_token_latency_seconds", "time_per_output_token_seconds",
    "e2e_request_latency_seconds", "request_queue_time_seconds",
    "spec_decode_num_drafts", "spec_decode_num_draft_tokens", "spec_decode_num_accepted_tokens",
)
IB_COUNTERS = ("port_xmit_data", "port_rcv_data", "symbol_error", "link_downed", "port_rcv_errors",
               "port_xmit_discards", "link_error_recovery", "local_link_integrity_errors")
IB_HW_COUNTERS = ("out_of_sequence", "packet_seq_err", "local_ack_timeout_err", "np_cnp_sent",
                  "rp_cnp_handled", "rx_icrc_encapsulated")
NET_FILES = ("operstate", "speed", "mtu", "statistics/rx_bytes", "statistics/tx_bytes",
             "statistics/rx_errors", "statistics/tx_errors", "statistics/rx_dropped", "statistics/tx_dropped")


def _q(args) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in args)


NODE_SEGMENT_BYTES = 16 * 1024 * 1024


def _node_recorder(record_dir: str, max_bytes: int) -> tuple[str, str, str]:
    """(setup, pipe, after) sh fragments that append every frame to RECORD_DIR/frames-*.log on the
    node: each frame through `tee -a`, then `sync FILE` (fsync) before the next; a new file when
    the current one passes NODE_SEGMENT_BYTES (size read once a minute), the oldest files removed
    past max_bytes. A frame cut by a crash is skipped on reading (split_frames)."""
    import shlex

    keep = max(2, max_bytes // NODE_SEGMENT_BYTES)
    setup = (f"D={shlex.quote(record_dir)}; mkdir -p \"$D\" || exit 1; "
             'F="$D/frames-$(date -u +%Y%m%dT%H%M%S)-$$.log"; ')
    after = (f'sync "$F" 2>/dev/null; if [ $((n % 60)) -eq 0 ] && [ "$(wc -c < "$F")" -gt {NODE_SEGMENT_BYTES} ]; then '
             'F="$D/frames-$(date -u +%Y%m%dT%H%M%S)-$$.log"; set -- "$D"/frames-*.log; '
             f'while [ $# -gt {keep} ]; do rm -f "$1"; shift; done; fi; ')
    return setup, ' | tee -a "$F"', after


def script(interval: float = 1.0, vllm_port: int | None = 8000, tegrastats: bool = True,
           record_dir: str | None = None, record_max_bytes: int = 256 * 1024 * 1024) -> str:
    """The POSIX sh program one node runs for the whole watch (with record_dir: also the node's
    own flight recorder, frames stamped by the node's clock)."""
    ms = max(100, int(interval * 1000))
    secs = f"{max(interval, 0.1):g}"
    net = " ".join(f"/sys/class/net/en*np*/{f}" for f in NET_FILES)
    ib = " ".join([f'"$R"/sys/class/infiniband/*/ports/*/{f}' for f in ("state", "rate")]
                  + [f'"$R"/sys/class/infiniband/*/ports/*/counters/{c}' for c in IB_COUNTERS]
                  + [f'"$R"/sys/class/infiniband/*/ports/*/hw_counters/{c}' for c in IB_HW_COUNTERS])
    fams = "|".join(VLLM_FAMILIES)
    vllm = ""
    if vllm_port:
        vllm = (f'if command -v curl >/dev/null 2>&1; then curl -s -m 2 http://127.0.0.1:{int(vllm_port)}/metrics > "$T/v"; '
                f'rc=$?; else rc=127; : > "$T/v"; fi; echo "{MARK}vllm $rc"; '
                f"grep -E '^(# (HELP|TYPE) )?vllm:({fams})(_total|_bucket|_sum|_count)?[{{ ]' \"$T/v\"; ")
    tegra = ""
    if tegrastats:
        tegra = ('if command -v tegrastats >/dev/null 2>&1 && sudo -n true 2>/dev/null; then '
                 f'( sudo -n tegrastats --interval {ms} 2>/dev/null | while IFS= read -r l; do '
                 'printf "%s\\n" "$l" > "$T/t"; done ) & fi; ')
    setup = pipe = after = stamp = ""
    if record_dir:
        setup, pipe, after = _node_recorder(record_dir, record_max_bytes)
        stamp = " $(date +%s.%N)"
    return (
        'R="${SPARKPILOT_HOST_ROOT:-}"; for d in "${TMPDIR:-/tmp}"/sparkpilot-watch.*; do '
        '[ -d "$d" ] && ! kill -0 "${d##*.}" 2>/dev/null && rm -rf "$d"; done; '
        'T="${TMPDIR:-/tmp}/sparkpilot-watch.$$"; mkdir -m 700 "$T" || exit 1; '
        "trap 'trap - EXIT HUP INT TERM PIPE; rm -rf \"$T\"; kill 0 2>/dev/null; exit 0' EXIT HUP INT TERM PIPE; "
        'if command -v nvidia-smi >/dev/null 2>&1; then '
        f'( while :; do {_q(GPU_ARGV)} -lms {ms} 2>&1 | while IFS= read -r l; do printf "%s\\n" "$l" > "$T/g"; done; '
        f'sleep {secs}; done ) & else echo "nvidia-smi: command not found" > "$T/g"; fi; '
        + tegra + setup +
        f'n=0; while :; do A=$((n % {APPS_EVERY})); n=$((n+1)); {{ echo "{MARK}frame{stamp}"; '
        f'if [ $A -eq 0 ]; then echo "{MARK}apps"; {_q(APPS_ARGV)} 2>&1; fi; '
        f'echo "{MARK}files"; grep -H "" "$T/g" "$T/t" "$R/proc/meminfo" "$R/proc/pressure/memory" '
        f'"$R"/sys/class/thermal/thermal_zone*/type "$R"/sys/class/thermal/thermal_zone*/temp {net} {ib} 2>/dev/null; '
        + vllm +
        f'echo "{MARK}end"; }}{pipe}; {after}sleep {secs}; done'
    )


def argv(interval: float = 1.0, vllm_port: int | None = 8000, tegrastats: bool = True,
         record_dir: str | None = None, record_max_bytes: int = 256 * 1024 * 1024) -> list[str]:
    return ["sh", "-c", script(interval, vllm_port, tegrastats, record_dir, record_max_bytes)]


@dataclass
class Frame:
    """One sample's raw sections, as the node printed them."""
    epoch: float
    sections: dict[str, str] = field(default_factory=dict)
    vllm_rc: int | None = None


class FrameReader:
    """Feed lines of the stream; complete frames come out of `feed`."""

    def __init__(self) -> None:
        self._frame: Frame | None = None
        self._section: str | None = None
        self._lines: list[str] = []

    def _close_section(self) -> None:
        if self._frame is not None and self._section is not None:
            self._frame.sections[self._section] = "\n".join(self._lines)
        self._section, self._lines = None, []

    def feed(self, line: str) -> Frame | None:
        line = line.rstrip("\n")
        if not line.startswith(MARK):
            if self._section is not None:
                self._lines.append(line)
            return None
        words = line[len(MARK):].split()
        if not words:
            return None
        self._close_section()
        kind = words[0]
        if kind == "frame":
            try:
                self._frame = Frame(float(words[1]) if len(words) > 1 else time.time())
            except ValueError:
                self._frame = None
            return None
        if kind == "end":
            done, self._frame = self._frame, None
            return done
        if self._frame is None:
            return None
        self._section = kind
        if kind == "vllm" and len(words) > 1 and words[1].lstrip("-").isdigit():
            self._frame.vllm_rc = int(words[1])
        return None


def split_frames(text: str) -> list[Frame]:
    """Every complete frame in a recorded stream."""
    reader, frames = FrameReader(), []
    for line in text.splitlines():
        f = reader.feed(line)
        if f is not None:
            frames.append(f)
    return frames


def split_files(text: str) -> dict[str, str]:
    """The `files` section (grep -H lines, PATH:VALUE) back into the sections the parsers read:
    gpu, tegra, meminfo, psi, thermal (ZONE<TAB>TYPE<TAB>TEMP), net and ib (PATH:VALUE lines)."""
    out: dict[str, list[str]] = {}
    zones: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        path, sep, value = line.partition(":")
        if not sep:
            continue
        if "/sparkpilot-watch." in path:
            key = {"g": "gpu", "t": "tegra"}.get(path.rsplit("/", 1)[-1])
            if key:
                out.setdefault(key, []).append(value)
        elif path.endswith("/proc/meminfo"):
            out.setdefault("meminfo", []).append(value)
        elif path.endswith("/proc/pressure/memory"):
            out.setdefault("psi", []).append(value)
        elif "/sys/class/thermal/" in path:
            parts = path.split("/")
            zones.setdefault(parts[-2], {})[parts[-1]] = value.strip()
        elif "/sys/class/net/" in path:
            out.setdefault("net", []).append(line)
        elif "/sys/class/infiniband/" in path:
            out.setdefault("ib", []).append(line)
    sections = {k: "\n".join(v) for k, v in out.items()}
    rows = [f"{z}\t{d.get('type', '')}\t{d['temp']}" for z, d in sorted(zones.items()) if "temp" in d]
    if rows:
        sections["thermal"] = "\n".join(rows)
    return sections
