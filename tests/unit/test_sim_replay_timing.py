"""The replay image's timing (tests/sim/replay.py compile_log) keeps the real start's time: a
progress bar whose updates are interleaved with timestamped lines (vLLM logs a line per layer
between the shard bar's updates) must not add its elapsed time again after each such line.
Before the fix, 139-head (a real GB10 pair start of 8 min 19 s) replayed in 22 min."""

from __future__ import annotations

import re

import pytest

from sim.replay import compile_log, find_logs, meta_for

STAMP = re.compile(r"\b(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\b")


def span_of(text: str) -> float:
    """Seconds from the first to the last `MM-DD HH:MM:SS` stamp vLLM printed (one day, as here)."""
    stamps = [int(m[3]) * 3600 + int(m[4]) * 60 + int(m[5]) for m in STAMP.finditer(text)]
    return float(stamps[-1] - stamps[0])


@pytest.mark.parametrize("log_id", ["139-head", "140-head"])
def test_a_bar_interleaved_with_stamped_lines_keeps_the_real_time(log_id):
    path = find_logs()[log_id]
    text = path.read_text(errors="replace")
    lines = compile_log(text, meta_for(path))["lines"]
    offsets = [at for at, _ in lines]
    assert offsets == sorted(offsets)
    assert abs(offsets[-1] - span_of(text)) <= 2.0, (offsets[-1], span_of(text))
    shards = [at for at, line in lines if "checkpoint shards:" in line and "Completed |" in line]
    assert shards and shards[-1] - shards[0] <= span_of(text)
