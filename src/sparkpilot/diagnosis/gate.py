"""A fast gate before many regexes: the literal text each pattern cannot match without.

Most log lines match none of the phase markers, figures or failure signatures; checking a few
lower-case substrings first skips the regexes for them. A pattern without a usable literal
(fewer than 3 characters) opens the gate for every line, so nothing is ever missed.
"""

from __future__ import annotations

import re
from typing import Iterable

try:  # the regex parser, to find the literal text a pattern cannot match without
    import re._parser as _sre_parse  # type: ignore[import-not-found]  # Python >= 3.11
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]


def _literals(items) -> list[str] | None:
    """Alternatives of literal text one of which every match contains, or None when unsure."""
    best: list[str] | None = None
    run: list[str] = []

    def consider(cands: list[str] | None) -> None:
        nonlocal best
        if cands and all(len(c) >= 3 for c in cands):
            if not best or min(map(len, cands)) > min(map(len, best)):
                best = cands

    for op, arg in list(items) + [(None, None)]:
        if op is _sre_parse.LITERAL:
            run.append(chr(arg))
            continue
        consider(["".join(run)] if run else None)
        run = []
        if op is _sre_parse.SUBPATTERN:
            consider(_literals(arg[-1]))
        elif op is _sre_parse.BRANCH:
            alts = [_literals(branch) for branch in arg[1]]
            if all(alts):
                consider([c for alt in alts if alt for c in alt])
    return best




def required_literals(pattern: str) -> list[str] | None:
    try:
        return _literals(_sre_parse.parse(pattern))
    except Exception:  # noqa: BLE001 - an unusual pattern is simply never skipped
        return None


class Gate:
    def __init__(self, patterns: Iterable[re.Pattern[str] | str]) -> None:
        keys: set[str] = set()
        self.always = False
        for rx in patterns:
            found = required_literals(rx.pattern if hasattr(rx, "pattern") else str(rx))
            if found:
                keys.update(k.lower() for k in found)
            else:
                self.always = True
        self.keys = tuple(sorted(keys))

    def may_match(self, text: str) -> bool:
        if self.always:
            return True
        low = text.lower()
        return any(k in low for k in self.keys)
