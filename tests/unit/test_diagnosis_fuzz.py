"""Fuzz: the log parser survives what real deployments produce (and worse), and never raises."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkpilot.diagnosis import LiveDiagnosis, diagnose, diagnose_many, garbage_reason
from sparkpilot.diagnosis.figures import parse_args_dict
from sparkpilot.diagnosis.phases import PHASES

REPO = Path(__file__).resolve().parents[2]
LOGS = sorted((REPO / "tests" / "data" / "logs").glob("*.log"))
SHARED = sorted((REPO / "tests" / "data" / "shared" / "data" / "logs").glob("*.log"))
REAL_LINES = [l for p in LOGS + SHARED for l in p.read_text(encoding="utf-8", errors="replace").splitlines()]
OUTCOMES = {"ready", "failed", "incomplete"}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEAVY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.lru_cache(maxsize=None)
def _alone(path: Path):
    return diagnose(path.read_text(encoding="utf-8", errors="replace"))

PREFIXES = st.sampled_from([
    "", "vllm-1  | ", "vllm_gb10_server  | ", "[pod/vllm-0/vllm] ", "2026-07-23T22:38:15.123456789Z ",
    "(APIServer pid=1) ", "(EngineCore_DP0 pid=9) (RayWorkerWrapper pid=3, ip=10.0.0.2) ", "(raylet) ",
    "[2025-03-10T15:07:20Z] ", "  | ", "> ", "\x1b[1;31m", "\x1b]0;title\x07", "\r",
])
ANSI = st.sampled_from(["", "\x1b[0m", "\x1b[32m", "\x1b[2K", "\x1b[?25l", "\x1b[38;5;196m"])


def _check(d) -> None:
    assert d.outcome in OUTCOMES
    names = [p.name for p in d.phases]
    assert names == sorted(names, key=PHASES.index) and len(set(names)) == len(names)
    json.dumps(d.to_dict())
    if d.outcome == "failed":
        assert d.failure is not None and d.failure.cls


@FAST
@given(st.text())
def test_any_text(text):
    _check(diagnose(text))


@FAST
@given(st.binary(max_size=4000))
def test_binary_garbage(data):
    _check(diagnose(data.decode("utf-8", errors="replace")))
    _check(diagnose(data.decode("latin-1")))


@FAST
@given(st.lists(st.tuples(PREFIXES, ANSI, st.sampled_from(REAL_LINES), ANSI), max_size=60))
def test_real_lines_with_random_prefixes_and_colours(parts):
    _check(diagnose("\n".join(p + a + line + b for p, a, line, b in parts)))


@FAST
@given(st.sampled_from(LOGS + SHARED), st.integers(min_value=0), st.integers(min_value=0))
def test_truncated_anywhere(path, start, length):
    text = path.read_text(encoding="utf-8", errors="replace")
    start %= max(1, len(text))
    _check(diagnose(text[start:start + length % (len(text) + 1)]))


@HEAVY
@given(st.sampled_from(LOGS + SHARED), st.sampled_from(LOGS + SHARED), st.randoms(use_true_random=False))
def test_interleaved_logs(a, b, rnd):
    la = a.read_text(encoding="utf-8", errors="replace").splitlines()
    lb = b.read_text(encoding="utf-8", errors="replace").splitlines()
    out = []
    while la or lb:
        src = la if (la and (not lb or rnd.random() < 0.5)) else lb
        out.append(src.pop(0))
    d = diagnose("\n".join(out))
    _check(d)
    alone = [_alone(p) for p in (a, b)]
    if any(x.outcome == "failed" and x.failure.cls != "unrecognised" for x in alone) \
            and not any(x.outcome == "ready" for x in alone):
        assert d.outcome == "failed"  # (a ready log mixed in may bring the server up first)


@HEAVY
@given(st.sampled_from(LOGS + SHARED), st.lists(st.integers(min_value=1, max_value=400), max_size=30))
def test_live_feed_in_random_chunks_matches_batch(path, cuts):
    text = path.read_text(encoding="utf-8", errors="replace")
    live = LiveDiagnosis()
    buf, pos = "", 0
    for cut in cuts:  # feed whole lines only, as `up` does, but in uneven groups
        chunk = text[pos:pos + cut]
        pos += cut
        buf += chunk
        if "\n" in buf:
            head, buf = buf.rsplit("\n", 1)
            live.feed(head)
    live.feed(buf + text[pos:])
    batch = _alone(path)
    got = live.result()
    assert got.outcome == batch.outcome
    assert (got.failure.cls if got.failure else None) == (batch.failure.cls if batch.failure else None)


@FAST
@given(st.lists(st.tuples(st.text(max_size=200), st.text(max_size=2000)), min_size=1, max_size=4))
def test_merge_never_raises(logs):
    _check(diagnose_many(logs))


@FAST
@given(st.text(max_size=500))
def test_args_and_answers_never_raise(text):
    assert isinstance(parse_args_dict("{" + text), dict)
    garbage_reason(text)
