"""Replay scripts for the replay image: the real logs of GB10 starts (and others), with their real
relative timing, for what only a GB10 shows (image/replay_vllm.py plays them).

    compile_log(log, meta) -> {"lines": [[seconds, line], ...], "end": exit|hang|serve,
                               "exit_code": 1, "health_at": index | None, "source": ...}
    write_scripts(dir)     every recorded log (tests/data/logs, ../shared/data/logs) by id, and
                           the SCENARIOS by name

Timing: a line's time is its own timestamp (vLLM's `MM-DD HH:MM:SS`, `docker logs -t`, Ray's
`[YYYY-MM-DD HH:MM:SS,ms`), read with sparkpilot.diagnosis.lines as diagnose reads it; a progress
bar's line is the time its bar started plus its own elapsed `[mm:ss<`; any other line takes the
time of the line before it. Times never go backwards (processes' clocks interleave); a silence
longer than MAX_GAP (chunks of one pasted log) becomes one second.
End: outcome `ready` serves until stopped; `incomplete` (the recording stops mid-start) hangs;
any failure exits 1. /health answers from the "Application startup complete" line on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sparkpilot.diagnosis.lines import parse_line, with_year

TESTS = Path(__file__).resolve().parent.parent
# ../shared beside the repository (as CI lays it), or beside a worktree's parent folder
LOG_DIRS = [TESTS / "data" / "logs", TESTS.parent.parent / "shared" / "data" / "logs",
            TESTS.parent.parent.parent / "shared" / "data" / "logs"]
MAX_GAP = 900.0  # seconds: a longer silence is two pasted chunks of one log, not one wait
PROMPT_RE = re.compile(r"^[\w.\-]+@[\w.\-]+:\S*[$#] ")  # the poster's shell prompt, not the process
BAR_RE = re.compile(r"\|\s*(\d+)/(\d+) \[(\d+):(\d{2})(?::(\d{2}))?<")
READY_RE = re.compile(r"Application startup complete")

# scenario -> (log id, cut before the first line matching, note). What only a GB10 shows.
SCENARIOS: dict[str, tuple[str, str | None, str]] = {
    "ready": ("132", None, "GB10, NGC vLLM 26.01, ready (Dell Pro Max GB10)"),
    "oom-at-start": ("135", None, "GB10: Available KV cache memory -1.30 GiB, no memory for cache blocks"),
    "graph-capture-hang": ("132", r"^Capturing CUDA graphs",
                           "reconstructed: the real ready GB10 start of 132 cut where CUDA graph capture "
                           "begins, then no further output (no recording of a capture hang on GB10 exists)"),
    "flashinfer-sm12x": ("111", None, "FlashInfer refusing an SM12x Blackwell (recorded on SM120, "
                                      "the GB10's SM121 family; no SM121 recording)"),
    "ray-memory-monitor": ("119", None, "Ray's memory monitor killing a vLLM worker (raylet lines)"),
    "ready-pair-head": ("139-head", None, "GB10 x2, head rank, ready"),
    "ready-pair-worker": ("139-worker", None, "GB10 x2, worker rank"),
    "model-not-found": ("134", None, "GB10: model not found"),
}


def find_logs() -> dict[str, Path]:
    """Log id -> file; tests/data wins over ../shared/data for one id."""
    found: dict[str, Path] = {}
    for d in LOG_DIRS:
        if d.is_dir():
            for p in sorted(d.glob("*.log")):
                found.setdefault(p.stem, p)
    return found


def meta_for(log: Path) -> dict:
    for cand in (log.with_suffix(".json"), log.with_name(log.stem.split("-")[0] + ".json")):
        if cand.exists():
            return json.loads(cand.read_text())
    return {}


def end_of(meta: dict) -> str:
    outcome = meta.get("outcome")
    if outcome == "ready":
        return "serve"
    if outcome == "incomplete":
        return "hang"
    return "exit"


def compile_log(text: str, meta: dict, cut: str | None = None, api: bool = True) -> dict:
    """api=False: a headless rank (a `-worker` log), which never serves /health."""
    lines: list[list] = []
    first: float | None = None
    last = 0.0
    bar_base = 0.0
    bar_at: tuple[int, int] | None = None   # (done, total) of the bar going on: its start is bar_base
    raw_lines = text.splitlines()
    if raw_lines and PROMPT_RE.match(raw_lines[0]):  # `user@host:~$ docker logs -f x` as pasted
        raw_lines = raw_lines[1:]
    if raw_lines and PROMPT_RE.match(raw_lines[-1] + " "):  # the prompt back after the process ended
        raw_lines = raw_lines[:-1]
    walls = bool(raw_lines) and parse_line(raw_lines[0]).wall is not None  # `docker logs -t`
    for raw in raw_lines:
        if cut and re.search(cut, raw):
            break
        parsed = parse_line(raw)
        stamp = parsed.wall if walls else with_year(parsed, 0).ts  # vLLM prints no year: drop years
        bar = BAR_RE.search(raw)
        if stamp is not None:
            if first is None:
                first = stamp
            at = stamp - first
            if at - last > MAX_GAP:  # chunks of one paste: go on after the usual pause
                first += at - last - 1.0
                at = last + 1.0
        elif bar:
            # one bar's lines keep its start, also across other lines in between (vLLM logs a line
            # per layer between the shard bar's updates): a bar starts anew at a new total or a lower count
            done, total = int(bar[1]), int(bar[2])
            if bar_at is None or total != bar_at[1] or done < bar_at[0]:
                bar_base = last
            bar_at = (done, total)
            h, m, s = (bar[3], bar[4], bar[5]) if bar[5] else ("0", bar[3], bar[4])
            at = bar_base + int(h) * 3600 + int(m) * 60 + int(s)
        else:
            at = last
        last = max(last, at)
        lines.append([round(last, 3), raw])
    end = "hang" if cut else end_of(meta)
    health = next((i for i, (_, line) in enumerate(lines) if READY_RE.search(line)), None)
    if health is None and end == "serve" and lines and api:
        health = len(lines) - 1
    return {"lines": lines, "end": end, "exit_code": 1, "health_at": health,
            "outcome": meta.get("outcome"), "failure_class": meta.get("failure_class")}


def write_scripts(out: Path) -> list[str]:
    """Write <id>.json for every log and <scenario>.json for each scenario; returns the names."""
    out.mkdir(parents=True, exist_ok=True)
    logs = find_logs()
    names = []
    for log_id, path in logs.items():
        script = compile_log(path.read_text(errors="replace"), meta_for(path), api=not log_id.endswith("-worker"))
        script["source"] = f"{path.parent.parent.name}/{path.parent.name}/{path.name}"
        (out / f"{log_id}.json").write_text(json.dumps(script))
        names.append(log_id)
    for name, (log_id, cut, note) in SCENARIOS.items():
        if log_id not in logs:
            continue
        path = logs[log_id]
        script = compile_log(path.read_text(errors="replace"), meta_for(path), cut,
                             api=not log_id.endswith("-worker"))
        script["source"] = f"{path.parent.parent.name}/{path.parent.name}/{path.name}"
        script["note"] = note
        (out / f"{name}.json").write_text(json.dumps(script))
        names.append(name)
    return names


def inputs_hash_parts() -> list[tuple[str, bytes]]:
    parts = [(p.name, p.read_bytes()) for p in sorted(find_logs().values())]
    parts += [(p.name, p.read_bytes()) for d in LOG_DIRS if d.is_dir() for p in sorted(d.glob("*.json"))]
    here = Path(__file__).resolve()
    parts += [(here.name, here.read_bytes()), ("replay_vllm.py", (here.parent / "image/replay_vllm.py").read_bytes())]
    return parts
