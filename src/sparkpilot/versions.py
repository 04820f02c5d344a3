"""Version numbers, read and compared one way everywhere (vLLM, NCCL, CUDA, stacks, flag tables).

    key("0.13.0+faa43dbf.nv26.01")      -> (0, 13, 0)    fields split on . + -, leading digits of each
    key("0.11.0rc1", 2)                 -> (0, 11)
    key("nightly")                      -> None          not a version
    satisfies("0.12.1", ">=0.12")       -> True           one condition: >=, <=, ==, >, < VERSION
    series("13.0.2")                    -> "13.0"
"""

from __future__ import annotations

import re

_FIELDS = re.compile(r"[.+-]")
_DIGITS = re.compile(r"\d+")
_CONDITION = re.compile(r"(>=|<=|==|>|<)\s*(\S+)")


def key(version: str | None, fields: int = 3) -> tuple[int, ...] | None:
    """The first `fields` numbers of a version (missing ones are 0), or None when it does not start
    with a digit (after an optional `v`). A field that does not start with a digit counts as 0."""
    text = str(version or "").strip().lstrip("vV")
    if not text[:1].isdigit():
        return None
    out = []
    for piece in _FIELDS.split(text)[:fields]:
        m = _DIGITS.match(piece)
        out.append(int(m.group()) if m else 0)
    return tuple(out + [0] * (fields - len(out)))


def order(version: str | None, fields: int = 4) -> tuple[int, ...]:
    """A sort key: `key`, with what is not a version first."""
    return key(version, fields) or ()


def satisfies(version: str, condition: str) -> bool:
    """Whether `version` meets one condition such as ">=0.12"; a condition it cannot read holds."""
    m = _CONDITION.match(condition.strip())
    if not m:
        return True
    a, b = order(version, 3), order(m.group(2), 3)
    return {">=": a >= b, "<=": a <= b, "==": a == b, ">": a > b, "<": a < b}[m.group(1)]


def series(version: str, n: int = 2) -> str:
    """The first `n` dot (or dash) fields as written: "13.0.2" -> "13.0", "24.04.4" -> "24.04"."""
    return ".".join(re.split(r"[.-]", version)[:n])
