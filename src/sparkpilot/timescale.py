"""SPARKPILOT_TIME_SCALE (CONTRACTS.md "Time in tests"): one factor for every duration.

plan's start-up estimate, up's progress and hang detection, and the stand-in vLLM all read the
same scale, so a test that sets SPARKPILOT_TIME_SCALE=0.01 sees real relative timing in seconds.
"""

from __future__ import annotations

import math
import os

ENV = "SPARKPILOT_TIME_SCALE"


def time_scale(environ: dict[str, str] | None = None) -> float:
    """The factor from SPARKPILOT_TIME_SCALE; 1.0 when unset, empty, unparseable or not > 0."""
    raw = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        return 1.0
    if not value > 0 or math.isnan(value) or math.isinf(value):
        return 1.0
    return value


def scaled(seconds: float, environ: dict[str, str] | None = None) -> float:
    """`seconds` of real time under the current scale."""
    return seconds * time_scale(environ)
