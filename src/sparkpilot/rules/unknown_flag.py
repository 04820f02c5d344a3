"""unknown-flag: flags (and flag values) the judged vLLM version does not have, with "did you mean"."""

from __future__ import annotations

import difflib

from sparkpilot.rules.context import LintContext
from sparkpilot.rules.finding import Finding
from sparkpilot.vllm import args as vargs


def _versions_with(flag: str) -> list[str]:
    return [v for v in vargs.table_versions() if flag in (vargs.table(v) or {})]


def unknown_flag(ctx: LintContext) -> list[Finding]:
    table = ctx.table
    if not table:
        return []
    out: list[Finding] = []
    sev = "warning" if ctx.stack.get("family") == "eugr" else None
    custom = " (eugr builds track vLLM main and may carry patches)" if sev else ""
    for use in ctx.spec.flag_uses:
        flag = use.flag
        base = flag
        if use.value is False and flag.startswith("--no-"):
            base = "--" + flag[5:]
            info = table.get(base)
            if info is not None and getattr(info, "negatable", True):
                continue
            if flag in table:
                continue
        elif flag in table:
            _check_choices(ctx, use, table[flag], out, sev)
            continue
        later = [v for v in _versions_with(base) if v != ctx.flags_version]
        close = difflib.get_close_matches(base, list(table), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        also = f"; it exists in vLLM {', '.join(later)}" if later else ""
        out.append(ctx.finding("unknown-flag", f"{use.written}: vLLM {ctx.flags_version} has no such flag{hint}{also}{custom}",
                               severity=sev, location=use.location))
    return out


def _check_choices(ctx: LintContext, use, info, out: list[Finding], sev: str | None) -> None:
    choices = getattr(info, "choices", None)
    if not choices or not isinstance(use.value, str) or getattr(info, "choices_strict", True) is False:
        return
    value = use.value
    if "{" in value or "$" in value or "<" in value:
        return
    values = [value]
    if getattr(info, "nargs", None) in ("+", "*"):
        values = value.split()
    ci = getattr(info, "case_insensitive", False)
    norm = {str(c).lower() if ci else str(c) for c in choices}
    for v in values:
        if (v.lower() if ci else v) in norm:
            continue
        close = difflib.get_close_matches(v, [str(c) for c in choices], n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else f"; choices: {', '.join(map(str, choices))}"
        out.append(ctx.finding("unknown-flag", f"{use.written} {v}: not a choice in vLLM {ctx.flags_version}{hint}",
                               severity=sev, location=use.location))
