"""unknown-flag: flags (and flag values) the judged vLLM version does not have, with "did you mean".

The flag tables are generated from vLLM's own source (sparkpilot.vllm.flags, engineer B); how a
written option maps to a flag (aliases, underscores, --no-X, --json.key, -O3) is flags.resolve.
"""

from __future__ import annotations

import difflib
import re

from sparkpilot.rules.context import LintContext
from sparkpilot.rules.finding import Finding
from sparkpilot.vllm import args as vargs


def _flags():
    try:
        from sparkpilot.vllm import flags
        return flags
    except Exception:  # noqa: BLE001
        return None


def unknown_flag(ctx: LintContext) -> list[Finding]:
    table = ctx.table
    if not table or not ctx.flags_version:
        return []
    flags = _flags()
    out: list[Finding] = []
    sev = None   # severity_by_stack in rules.yaml: a warning on eugr's source builds
    custom = " (eugr builds track vLLM main and may carry patches)" if ctx.stack.get("family") == "eugr" else ""
    for use in ctx.spec.flag_uses:
        if use.written == "<entrypoint>":
            continue
        info = _resolve(flags, use, ctx, table)
        if info is not None:
            _check_choices(ctx, use, info, out, sev)
            _check_type(ctx, use, info, out, sev)
            continue
        if flags is not None and flags.abbreviation(use.written, ctx.flags_version) is not None:
            continue   # argparse accepts a unique prefix
        if "." in use.written and use.flag in table:
            continue   # --dict-flag.key value: vLLM turns it into JSON; the table may not call the flag json
        if flags is not None:
            close = [c for c in flags.suggest(use.written, ctx.flags_version, n=3)
                     if difflib.SequenceMatcher(None, use.flag, c).ratio() >= 0.75][:1]
            later = [v for v in flags.versions_with(use.written) if v != ctx.flags_version]
        else:
            close = difflib.get_close_matches(use.flag, list(table), n=1, cutoff=0.75)
            later = []
        hint = f"; did you mean {close[0]}?" if close else ""
        also = f"; vLLM {', '.join(later)} has it" if later else ""
        out.append(ctx.finding("unknown-flag", f"{use.written}: vLLM {ctx.flags_version} has no such flag{hint}{also}{custom}",
                               severity=sev, location=use.location))
    return out


def _resolve(flags, use, ctx: LintContext, table):
    if flags is not None:
        try:
            r = flags.resolve(use.written, ctx.flags_version)
        except Exception:  # noqa: BLE001
            r = None
        return r.info if r is not None else None
    if use.value is False and use.flag.startswith("--no-"):
        info = table.get("--" + use.flag[5:])
        return info if info is not None and getattr(info, "negatable", True) else table.get(use.flag)
    if use.flag in table:
        return table[use.flag]
    alias = vargs.aliases(ctx.flags_version).get(use.written)
    return table.get(alias) if alias else None


def _check_choices(ctx: LintContext, use, info, out: list[Finding], sev: str | None) -> None:
    choices = getattr(info, "choices", None)
    if not choices or not isinstance(use.value, str) or getattr(info, "choices_strict", True) is False:
        return
    if "." in use.dest:   # --json-flag.key value: the value belongs to the key, not the flag
        return
    value = use.value
    if any(ch in value for ch in "{$<"):
        return
    values = value.split() if getattr(info, "nargs", None) in ("+", "*") else [value]
    for v in values:
        ok = info.accepts(v) if hasattr(info, "accepts") else v in choices
        if ok:
            continue
        close = difflib.get_close_matches(v, [str(c) for c in choices], n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else f"; choices: {', '.join(map(str, choices))}"
        out.append(ctx.finding("unknown-flag", f"{use.written} {v}: not a choice in vLLM {ctx.flags_version}{hint}",
                               severity=sev, location=use.location))


# vLLM parses int flags with int() or its human_readable_int ("32k", "1M", "25.6k")
_INT = re.compile(r"^[+-]?\d+$|^\d+(\.\d+)?[kKmMgGtT]$")


def _check_type(ctx: LintContext, use, info, out: list[Finding], sev: str | None) -> None:
    """A number flag given a word (`--gpu-memory-utilization abc`): vLLM's argparse refuses it."""
    kind = getattr(info, "type", None)
    if kind not in ("int", "float") or not isinstance(use.value, str) or "." in use.dest:
        return
    if getattr(info, "nargs", None) not in (None, 1):
        return
    value = use.value.strip()
    if not value or any(ch in value for ch in "{$<%"):
        return   # a placeholder or a variable: known only at run time
    if kind == "int":
        ok = bool(_INT.match(value))
    else:
        try:
            ok = float(value) == float(value)   # not NaN
        except ValueError:
            ok = False
    if not ok:
        out.append(ctx.finding("unknown-flag", f"{use.written} {value}: vLLM {ctx.flags_version} wants "
                               f"{'an integer' if kind == 'int' else 'a number'} here, so it refuses to start",
                               severity=sev, location=use.location))
