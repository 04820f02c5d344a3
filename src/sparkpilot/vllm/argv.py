"""vLLM's own words in an argv: where they start (`find_vllm_args`), and what each flag sets
(`parse_vllm_args`), plus the pieces every launch form shares (`loc`, `substitute`).

A leaf of the vllm package: parse.py (commands and scripts), docker.py, structured.py and
config_file.py all build on it. Those forms nest (a docker run's `bash -c` script, a recipe's
command, a config file named by `--config`): the nested text goes back to parse.py through the
`Parsers` its caller hands down, so no module here imports parse.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparkpilot.vllm import args as vargs
from sparkpilot.vllm.launchspec import FlagUse, LaunchSpec
from sparkpilot.vllm.shell import Word


@dataclass(frozen=True)
class Parsers:
    """parse.py's entry points, for a form that holds another: `script(text, filename, *, env,
    version, kind)` and `argv(argv, env, *, version)`, each -> LaunchSpec."""

    script: Callable[..., LaunchSpec]
    argv: Callable[..., LaunchSpec]


def loc(filename: str | None, line: int) -> str:
    return f"{filename or '<stdin>'}:{line}" if line else (filename or "<stdin>")


def find_vllm_args(argv: list[str]) -> tuple[int, int] | None:
    """(index of the vLLM program word, index of its first argument), or None."""
    for i, a in enumerate(argv):
        base = a.rsplit("/", 1)[-1]
        if base == "vllm" and i + 1 < len(argv) and argv[i + 1] == "serve":
            return i, i + 2
        if base.startswith("python") and i + 2 < len(argv) and argv[i + 1] == "-m" \
                and is_entry_module(argv[i + 2]):
            j = i + 3
            if argv[i + 2] == "vllm.entrypoints.cli.main" and j < len(argv) and argv[j] == "serve":
                j += 1
            return i, j
    return None


_FORK_ENTRY = re.compile(r"vllm\.entrypoints(\.\w+)*\.api_server")


def is_entry_module(module: str) -> bool:
    """vLLM's own server modules, and forks' `vllm.entrypoints.<anything>.api_server` (e.g. ROCm's
    `vllm.entrypoints.sync_openai.api_server`), which take vLLM's engine arguments."""
    return module in vargs.ENTRY_MODULES or bool(_FORK_ENTRY.fullmatch(module))


def parse_vllm_args(spec: LaunchSpec, words: list[Word], start: tuple[int, int], filename: str | None,
                     version: str | None) -> None:
    tbl = vargs.table(version)
    spec.argv = [w.text for w in words[start[0]:]]
    base = start[0]
    i = start[1]
    while i < len(words):
        w = words[i].text
        if w.startswith("-") and w not in ("-", "--") and not vargs._is_number(w):
            value: str | bool | None
            written, value, has_eq = w, None, False
            if w.startswith("--") and "=" in w:
                written, value = w.split("=", 1)
                has_eq = True
            elif w.startswith("-O") and not w.startswith("--") and len(w) > 2 and w not in vargs.SHORT:
                written, value, has_eq = "-O", w[2:].lstrip(".="), True
            flag, sub = vargs.canonical(written, version)
            nxt = words[i + 1].text if i + 1 < len(words) else None
            negated = False
            if not has_eq:
                if flag.startswith("--no-") and not (tbl and flag in tbl) and (
                        not tbl or "--" + flag[5:] in tbl or vargs.takes_value(flag, nxt, tbl) is False):
                    negated = True
                if negated:
                    value = False
                elif sub is not None or vargs.takes_value(flag, nxt, tbl):
                    value = nxt if nxt is not None else True
                else:
                    value = True
            if negated:
                dest = vargs.dest_of("--" + flag[5:], sub, tbl)
            else:
                dest = vargs.dest_of(flag, sub, tbl)
            use = FlagUse(written=written, flag=flag, dest=dest, value=value, index=i - base,
                          location=loc(filename, words[i].line) if words[i].line else None)
            spec.flag_uses.append(use)
            spec.options[dest] = value
            if use.location:
                spec.locations.setdefault(dest, use.location)
            i += 1 if (has_eq or not isinstance(value, str) or negated) else 2
            continue
        if spec.model is None:
            spec.model = w
            if words[i].line:
                spec.locations.setdefault("model", loc(filename, words[i].line))
        else:
            spec.notes.append(f"extra argument `{w}` ignored")
        i += 1
    if isinstance(spec.options.get("model"), str):
        spec.model = spec.options["model"]


# ----------------------------------------------------------------------------- nodes and executor


def substitute(word: str, values: dict[str, Any]) -> str:
    """Fill `{placeholder}` templates (recipes) from values; unknown ones stay."""
    def sub(m: re.Match) -> str:
        key = m.group(1)
        return str(values[key]) if key in values and values[key] is not None else m.group(0)
    return re.sub(r"\{(\w+)\}", sub, word)
