"""The contract words (CONTRACTS.md "Words", "Per-node launch"): every command that says one of
these says exactly one of them. A leaf module: anything may import it.
"""

from __future__ import annotations

from typing import Literal, get_args

Status = Literal["pass", "warn", "fail", "skip", "unknown"]          # a doctor / net check
Severity = Literal["error", "warning", "info"]                        # a lint finding
Outcome = Literal["ready", "failed", "incomplete"]                    # a launch (diagnose, up)
Executor = Literal["single", "ray", "native"]                         # how a plan runs its nodes

STATUSES: tuple[Status, ...] = get_args(Status)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
EXECUTORS: tuple[Executor, ...] = get_args(Executor)


def executor(text: object) -> Executor:
    """A plan's executor word; ValueError for anything else."""
    for word in EXECUTORS:
        if text == word:
            return word
    raise ValueError(f"unknown executor {text!r} (known: {', '.join(EXECUTORS)})")


def severity(text: object) -> Severity:
    """A lint severity word (from knowledge/rules.yaml); ValueError for anything else."""
    for word in SEVERITIES:
        if text == word:
            return word
    raise ValueError(f"unknown severity {text!r} (known: {', '.join(SEVERITIES)})")
