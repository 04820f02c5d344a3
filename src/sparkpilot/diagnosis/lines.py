"""Turn raw log text into clean, timestamped lines.

Real logs arrive wrapped: ANSI colours, carriage-return progress bars, `docker compose` service
prefixes (`vllm-1  | `), `kubectl logs --prefix` (`[pod/x/c] `), `docker logs -t` / CI timestamps,
process tags (`(APIServer pid=1)`, `(EngineCore_DP0 pid=9) (RayWorkerWrapper pid=3, ip=10.0.0.2)`),
markdown quotes, and now and then lines glued together when a paste lost its newlines.
`split_lines(text)` undoes all that and `parse_line(raw)` returns a `Line` with the vLLM level and
timestamp when the line has them. Nothing here raises on any input.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# a process tag as vLLM, Ray and multiprocessing print it
PROC_TAG = r"\((?:(?:[A-Za-z_][\w:.\-]*(?: [\w\-]+)? )?pid=\d+(?:, ip=[\w.:\-]+)?|raylet|gcs_server|autoscaler)\)"
PROC_TAG_RE = re.compile(PROC_TAG)
# a process tag in the middle of a line starts a new line (pastes that lost their newlines,
# progress bars interleaved with another process's output)
GLUED_RE = re.compile(r"(?<=\S)(?=" + PROC_TAG + r")")
PREFIX_RES = [
    re.compile(r"^>\s?"),                                                     # markdown quote
    re.compile("^[\u258e\u258f\u258c\u2502\u2503]\\s?"),                            # quote bars (\u258e ...)
    re.compile(r"^`{1,3}(?=\S)"),                                             # a code span's backticks
    re.compile(r"^\s*\|\s(?=\s*\[\d{4}-)"),                                   # CI table column
    re.compile(r"^\[\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?\]\s?"),   # buildkite
    re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})\s"),  # docker logs -t
    re.compile(r"^\[pod/[^\]\s]+\]\s"),                                       # kubectl logs --prefix
    re.compile(r"^[A-Za-z0-9][\w.\-]*\s+\|\s?"),                              # docker compose service
    re.compile(r"^" + PROC_TAG + r"\s?"),                                     # process tag
]
# vLLM's own format: "INFO 07-23 22:38:15 [file.py:12] msg" (also with year, ms, old "file.py:12]")
VLLM_RE = re.compile(
    r"^(?P<level>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\s+"
    r"(?P<ts>(?:\d{4}-)?\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)\s+"
    r"(?:\[?[\w./\-]+:\d+\]\s?)?(?P<msg>.*)$")
UVICORN_RE = re.compile(r"^(?P<level>INFO|WARNING|ERROR|CRITICAL):\s+(?P<msg>.*)$")
# generic "2024-04-27 10:13:05 | ERROR | stderr | msg" and "2024-04-27 10:13:05,117 ERROR msg"
GENERIC_TS_RE = re.compile(
    r"^\[?(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)Z?\]?\s*(?:[|-]\s*)?"
    r"(?:(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL|[DIWEF])\b\s*(?:[|-]\s*)?)?(?:\w+\s*\|\s*)?(?P<msg>.*)$")
BARE_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?$")
LEVELS = {"W": "WARNING", "E": "ERROR", "F": "CRITICAL", "I": "INFO", "D": "DEBUG", "WARN": "WARNING"}
MAX_LINE = 20000


@dataclass
class Line:
    """One log line: `text` is the message without prefixes, `raw` the line as given (ANSI removed)."""

    raw: str
    text: str
    level: str | None = None
    ts: float | None = None       # seconds on a common clock (see `parse_ts`)
    ts_text: str | None = None    # the timestamp as the log printed it
    source: str | None = None     # which file / node it came from, when several were merged
    index: int = 0
    year_known: bool = False      # the timestamp carried a year (else year 2000 stands in)
    wall: float | None = None     # epoch seconds from a `docker logs -t` stamp (comparable with now)


def clean(text: str) -> str:
    """Remove colours and control characters; keep the last frame of a `\\r` progress bar."""
    text = ANSI_RE.sub("", text)
    if "\r" in text:
        parts = [p for p in text.split("\r") if p.strip()]
        text = parts[-1] if parts else ""
    return CONTROL_RE.sub("", text)


def split_lines(text: str) -> list[str]:
    """Split raw text into lines, un-gluing lines that lost their newline before a process tag."""
    out: list[str] = []
    for physical in text.replace("\r\n", "\n").split("\n"):
        physical = clean(physical)
        if len(physical) > MAX_LINE:
            physical = physical[:MAX_LINE]
        pieces = GLUED_RE.split(physical) if "pid=" in physical else [physical]
        out.extend(pieces)
    return out


def strip_prefixes(text: str) -> str:
    """Remove every wrapper prefix (repeatedly: a compose prefix before a Ray tag before a vLLM tag)."""
    first = text[:1]
    if first and first not in "([>| \t`\u258e\u258f\u258c\u2502\u2503" and not first.isdigit() and "|" not in text[:80]:
        return text  # no prefix can start here (the common case: a bare vLLM line)
    for _ in range(8):
        before = text
        for rx in PREFIX_RES:
            text = rx.sub("", text, count=1)
        if text == before:
            break
    return text


@functools.lru_cache(maxsize=4096)
def parse_ts(stamp: str) -> float | None:
    """Seconds on one clock for vLLM's `MM-DD HH:MM:SS[.ms]` (year 2000 when absent) and ISO stamps."""
    stamp = stamp.strip().replace(",", ".").replace("T", " ")
    try:
        if len(stamp) >= 10 and stamp[4] == "-" and stamp[:4].isdigit():
            fmt = "%Y-%m-%d %H:%M:%S"
        else:
            stamp = "2000-" + stamp
            fmt = "%Y-%m-%d %H:%M:%S"
        main, _, frac = stamp.partition(".")
        value = datetime.strptime(main, fmt).timestamp()
        return value + (float("0." + frac) if frac.isdigit() else 0.0)
    except (ValueError, OverflowError, OSError, IndexError):
        return None


DOCKER_TS_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})\s")


def wall_time(raw: str) -> float | None:
    """Epoch seconds of a `docker logs --timestamps` prefix (RFC 3339, nanoseconds allowed)."""
    m = DOCKER_TS_RE.match(raw)
    if not m:
        return None
    zone = "+00:00" if m[4] == "Z" else (m[4] if ":" in m[4] else m[4][:3] + ":" + m[4][3:])
    try:
        when = datetime.fromisoformat(f"{m[1]}T{m[2]}{zone}")
    except ValueError:
        return None
    return when.timestamp() + (float("0." + m[3][:6]) if m[3] else 0.0)


def parse_line(raw: str, index: int = 0, source: str | None = None) -> Line:
    raw = clean(raw)
    text = strip_prefixes(raw).strip()
    line = Line(raw=raw.rstrip(), text=text, source=source, index=index)
    if raw[:1].isdigit():
        line.wall = wall_time(raw)
    m = VLLM_RE.match(text)
    if m:
        line.level = LEVELS.get(m["level"], m["level"])
        line.ts_text = m["ts"].replace(",", ".")
        line.ts = parse_ts(m["ts"])
        line.year_known = m["ts"][4:5] == "-"
        line.text = strip_prefixes(m["msg"]).strip()
        return line
    m = UVICORN_RE.match(text)
    if m:
        line.level = m["level"]
        line.text = m["msg"].strip()
        return line
    if text[:1].isdigit() or text[:2] == "[2":
        m = GENERIC_TS_RE.match(text)
        if m and m["ts"]:
            line.ts_text = m["ts"].replace(",", ".")
            line.ts = parse_ts(m["ts"])
            line.year_known = True
            if m["level"]:
                line.level = LEVELS.get(m["level"], m["level"])
            line.text = m["msg"].strip()
    return line


def is_bare_timestamp(text: str) -> bool:
    return bool(BARE_TS_RE.match(text.strip()))


def with_year(line: Line, year: int | None) -> Line:
    """Put the line's time on the log's clock: `year` is the year the log's first timestamp showed,
    0 when it showed none (vLLM's `MM-DD HH:MM:SS`): then years are dropped everywhere."""
    if line.ts is None or year is None:
        return line
    try:
        when = datetime.fromtimestamp(line.ts)
        if year == 0 and line.year_known:
            line.ts = when.replace(year=2000).timestamp()
            line.ts_text = when.strftime("%m-%d %H:%M:%S")
            line.year_known = False
        elif year and not line.year_known:
            line.ts = when.replace(year=year).timestamp()
            line.year_known = True
    except (ValueError, OverflowError, OSError):
        pass
    return line


def year_of(line: Line) -> int | None:
    if line.ts is None or not line.year_known:
        return None
    try:
        return datetime.fromtimestamp(line.ts).year
    except (ValueError, OverflowError, OSError):
        return None
