"""Failure signatures (knowledge/failures.yaml) and the two behaviour checks.

`Signature.match(text)` tests one cleaned line; `needs` (context that must appear somewhere in the
log) is checked by the caller. `first_error_line` picks the line an unknown failure is shown by.
`check_answer` (garbage output, cutlass_fp4_garbage) and `hang_failure` (cudagraph_hang) judge
behaviour rather than a line.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from sparkpilot.diagnosis.gate import Gate
from sparkpilot.diagnosis.lines import Line


@dataclass
class Signature:
    id: str
    name: str
    summary: str
    fix: str
    prevented_by: list[str]
    rank: int
    patterns: list[re.Pattern[str]] = field(default_factory=list)
    needs: list[re.Pattern[str]] = field(default_factory=list)
    variants: list[tuple[re.Pattern[str], str, str]] = field(default_factory=list)  # (when, summary, fix)

    pattern_ranks: dict[str, int] = field(default_factory=dict)  # a weaker pattern's own rank

    def match(self, text: str) -> bool:
        return any(rx.search(text) for rx in self.patterns)

    def rank_of(self, text: str) -> int:
        """The rank of the strongest pattern matching `text` (the signature's rank by default)."""
        ranks = [self.pattern_ranks.get(rx.pattern, self.rank) for rx in self.patterns if rx.search(text)]
        return max(ranks) if ranks else self.rank

    def context_ok(self, context: str) -> bool:
        return not self.needs or any(rx.search(context) for rx in self.needs)


@dataclass
class Failure:
    """The contract's failure object, plus id and the evidence lines."""

    cls: str
    line: str | None
    message: str
    fix: str
    prevented_by: list[str]
    id: str | None = None
    evidence: list[str] = field(default_factory=list)
    rank: int = 0
    index: int = -1  # line index in the log (for ordering)
    primary_rank: int = 0  # error_rank of the line shown

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.cls, "id": self.id, "line": self.line, "message": self.message,
                "fix": self.fix, "prevented_by": list(self.prevented_by), "evidence": list(self.evidence)}


@functools.lru_cache(maxsize=1)
def signatures() -> tuple[Signature, ...]:
    from sparkpilot import knowledge

    out = []
    for entry in knowledge.load("failures"):
        out.append(Signature(
            id=str(entry["id"]), name=str(entry["name"]), summary=str(entry.get("summary", "")).strip(),
            fix=str(entry.get("fix", "")).strip(), prevented_by=list(entry.get("prevented_by") or []),
            rank=int(entry.get("rank", 50)),
            patterns=[re.compile(p["re"] if isinstance(p, dict) else p) for p in entry.get("patterns") or []],
            pattern_ranks={p["re"]: int(p["rank"]) for p in entry.get("patterns") or []
                           if isinstance(p, dict) and "rank" in p},
            needs=[re.compile(p, re.IGNORECASE) for p in entry.get("needs") or []],
            variants=[(re.compile(v["when"]), " ".join(str(v.get("summary", entry.get("summary", ""))).split()),
                       " ".join(str(v.get("fix", entry.get("fix", ""))).split()))
                      for v in entry.get("variants") or []]))
    return tuple(out)


def apply_variant(failure: "Failure") -> "Failure":
    """Use the cause and fix of the signature variant its evidence shows (e.g. budget vs page cache)."""
    try:
        sig = by_name(failure.cls)
    except KeyError:
        return failure
    for when, summary, fix in sig.variants:
        if any(when.search(text) for text in [failure.line or "", *failure.evidence]):
            failure.message, failure.fix = summary, fix
            break
    return failure


CODE_LINE_RE = re.compile(r"(?:^|\] |\) )\s*(?:raise |File \")")


def is_code_line(text: str) -> bool:
    """A traceback's source or frame line (`raise ValueError(...`, `File "..."`), not the error itself."""
    return bool(CODE_LINE_RE.search(text))


@functools.lru_cache(maxsize=1)
def prefilter() -> Gate:
    """A line must hold one of these literals to match any signature; most lines hold none."""
    return Gate([rx for sig in signatures() for rx in [*sig.patterns, *sig.needs]])


def may_match(text: str) -> bool:
    return prefilter().may_match(text)


def by_name(name: str) -> Signature:
    for sig in signatures():
        if sig.name == name:
            return sig
    raise KeyError(name)


def failure_from(sig: Signature, line: Line | None, evidence: list[str] | None = None,
                 message: str | None = None) -> Failure:
    shown = display(line) if line is not None else None
    return Failure(cls=sig.name, id=sig.id, line=shown, message=message or sig.summary, fix=sig.fix,
                   prevented_by=sig.prevented_by, evidence=evidence or ([shown] if shown else []),
                   rank=sig.rank, index=line.index if line is not None else -1)


def display(line: Line) -> str:
    from sparkpilot.secrets import mask_secrets

    text = mask_secrets(line.raw.strip() or line.text)
    if len(text) > 400:
        text = text[:397] + "..."
    return f"[{line.source}] {text}" if line.source else text


# ----------------------------------------------------------------------------- unknown errors
EXCEPTION_RE = re.compile(r"^(?:\[rank\d+\]:\s*)?(?:[\w.]+\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\b(?::|$)")
ERROR_WORD_RE = re.compile(r"^(?:\w+: )?error: |\bFATAL\b|\bSegmentation fault\b|core dumped", re.IGNORECASE)
WRAPPER_RE = re.compile(r"See (?:root cause|stack trace)|^Traceback \(most recent")


CARET_RE = re.compile(r"^[\s~^]*\^[\s~^]*$")


def is_frame_line(text: str) -> bool:
    """A traceback line that is never the error: a caret marker (`^^^^`), a frame or source line."""
    return bool(CARET_RE.match(text)) or is_code_line(text) or text.startswith("File \"")


def error_rank(line: Line) -> int:
    """How good a line is to show for an unknown failure: 3 exception, 2 error word, 1 ERROR level
    (0 for caret and frame lines, which are never the error however they are tagged)."""
    text = line.text
    if not text or is_frame_line(text):
        return 0
    if EXCEPTION_RE.match(text) and not WRAPPER_RE.search(text):
        return 3
    if ERROR_WORD_RE.search(text):
        return 2
    if line.level in ("ERROR", "CRITICAL") or text.startswith("Traceback (most recent call last)"):
        return 1
    return 0


# ----------------------------------------------------------------------------- behaviour checks
WORD_RE = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


def garbage_reason(answer: str | None) -> str | None:
    """Why a smoke-test answer looks like garbage, or None when it reads like language.

    What the CUTLASS FP4 path returns on SM121 is not text: empty answers, runs of one character
    or token ("!!!!!!", "the the the"), replacement characters, or symbol soup.
    """
    if answer is None or not answer.strip():
        return "the answer is empty"
    text = answer.strip()
    if "\ufffd" in text and text.count("\ufffd") * 20 >= len(text):
        return "the answer is mostly undecodable bytes"
    compact = re.sub(r"\s+", "", text)
    if len(compact) >= 8 and max(compact.count(c) for c in set(compact)) / len(compact) > 0.6:
        return "one character makes up most of the answer"
    if 16 <= len(compact) < 200 and len(set(pairwise(compact))) / (len(compact) - 1) < 0.4:
        return "the answer repeats a few characters over and over"
    if len(compact) >= 40:
        grams = [compact[i:i + 4] for i in range(len(compact) - 3)]
        top = max(grams.count(g) for g in set(grams))
        if top * 4 / len(compact) > 0.25:
            return "a few letters repeat through most of the answer"
    if len(text) >= 200:
        import zlib

        if len(zlib.compress(text.encode("utf-8", "replace"), 9)) / len(text.encode("utf-8", "replace")) < 0.2:
            return "the answer repeats itself (it compresses to almost nothing)"
    wordish = sum(ch.isalnum() for ch in compact)
    if len(compact) >= 12 and wordish / len(compact) < 0.4:
        return "the answer is mostly symbols, not words or numbers"
    words = WORD_RE.findall(text.lower())
    if len(words) >= 8:
        top = max(words.count(w) for w in set(words))
        if top / len(words) > 0.5:
            return "one word repeats through the answer"
        if len(set(words)) / len(words) < 0.15:
            return "the answer loops over a few words"
    return None


def check_answer(answer: str | None) -> Failure | None:
    """cutlass_fp4_garbage from the smoke test's answer text (None when the answer reads fine)."""
    reason = garbage_reason(answer)
    if reason is None:
        return None
    sig = by_name("cutlass_fp4_garbage")
    shown = (answer or "")[:200]
    return Failure(cls=sig.name, id=sig.id, line=f"smoke test answer: {shown!r}",
                   message=f"{sig.summary} ({reason})", fix=sig.fix, prevented_by=sig.prevented_by,
                   evidence=[f"smoke test answer: {shown!r}", reason], rank=sig.rank)


def hang_failure(phase: str, elapsed: float, expected: float, driver_version: str | None) -> Failure:
    sig = by_name("cudagraph_hang")
    driver = f"driver {driver_version}" if driver_version else "driver version unknown"
    line = f"phase {phase} running for {elapsed:.0f} s, expected about {expected:.0f} s ({driver})"
    evidence = [line]
    message = sig.summary
    branch = (driver_version or "").split(".")[0]
    if branch == "590":
        evidence.append(f"driver {driver_version} is a 590.x driver, the one with the GB10 CUDA graph deadlock")
    elif branch:
        message = (f"A start-up phase ran far past its expected time without a word; driver {driver_version} "
                   "is not the 590.x branch with the known deadlock, so look for a stuck process too.")
    fix = sig.fix if branch in ("590", "") else (
        "Check what the engine is doing (py-spy dump --pid <EngineCore pid> inside the container), "
        "memory pressure (free -g, swap) and the node's dmesg; then stop and start again.")
    return Failure(cls=sig.name, id=sig.id, line=line, message=message, fix=fix,
                   prevented_by=sig.prevented_by, evidence=evidence, rank=sig.rank)
