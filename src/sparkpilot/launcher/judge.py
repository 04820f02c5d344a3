"""Judge the smoke chat's answer: language, or the garbage the CUTLASS FP4 kernels give on SM121.

The checks on the text itself are diagnosis's (`garbage_reason`: empty, one character or token
over and over, undecodable bytes, symbol soup: the shapes in tests/data/judge, taken from public
GB10 reports). Two more here for what an untrained (random-weights) model gives and a broken
kernel can too: word pieces from many writing systems strung together, and a model that is
guessing: at temperature 0 each token is the model's most likely one, so a trained model picks
tokens it is sure of, while random weights spread the probability over the whole vocabulary
(threshold SPU004 in knowledge/launch.yaml; the smoke chat asks vLLM for the tokens' logprobs).

    verdict = judge(answer, token_probs)      # Verdict(ok, reason, failure)
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

MIXED_SCRIPTS = 3        # letters from this many writing systems in one short answer is not language
MIXED_MIN_LETTERS = 12


@dataclass
class Verdict:
    ok: bool
    reason: str | None = None
    failure: Any = None     # a diagnosis Failure (cutlass_fp4_garbage) when not ok

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": "ok" if self.ok else "garbage", "reason": self.reason,
                "failure": self.failure.to_dict() if self.failure is not None else None}


def script_of(ch: str) -> str | None:
    """The writing system of a letter by its Unicode name (LATIN, CYRILLIC, CJK, ...), None for others."""
    if not ch.isalpha():
        return None
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return "UNKNOWN"
    first = name.split(" ")[0]
    if first in ("CJK", "HIRAGANA", "KATAKANA"):
        return "CJK"
    return first


def mixed_scripts_reason(answer: str) -> str | None:
    letters = [c for c in answer if c.isalpha()]
    if len(letters) < MIXED_MIN_LETTERS:
        return None
    counts: dict[str, int] = {}
    for c in letters:
        s = script_of(c)
        if s:
            counts[s] = counts.get(s, 0) + 1
    # a script counts when it is more than a stray name or quote: at least 3 letters and 5 %
    real = [s for s, n in counts.items() if n >= 3 and n / len(letters) >= 0.05]
    if len(real) >= MIXED_SCRIPTS:
        return f"letters from {len(real)} writing systems ({', '.join(sorted(real))}) strung together"
    return None


def guessing_reason(token_probs: list[float] | None) -> str | None:
    from sparkpilot.launcher.watch import threshold

    probs = token_probs or []
    if len(probs) < 4:
        return None
    mean = sum(probs) / len(probs)
    if mean < threshold("guessing-mean-token-p", 0.2):
        return (f"the model is guessing: at temperature 0 its chosen tokens average p={mean:.3f} "
                "(untrained or broken weights spread probability over the whole vocabulary)")
    return None


def judge(answer: str | None, token_probs: list[float] | None = None) -> Verdict:
    from sparkpilot.diagnosis import check_answer, garbage_reason

    reason = garbage_reason(answer) or mixed_scripts_reason(answer or "") or guessing_reason(token_probs)
    if reason is None:
        return Verdict(True)
    failure = check_answer(answer)
    if failure is None:   # the extra check here: build the same failure with this reason
        from sparkpilot.diagnosis import Failure
        from sparkpilot.diagnosis.signatures import by_name

        sig = by_name("cutlass_fp4_garbage")
        shown = (answer or "")[:200]
        failure = Failure(cls=sig.name, id=sig.id, line=f"smoke test answer: {shown!r}",
                          message=f"{sig.summary} ({reason})", fix=sig.fix, prevented_by=sig.prevented_by,
                          evidence=[f"smoke test answer: {shown!r}", reason], rank=sig.rank)
    return Verdict(False, reason, failure)
