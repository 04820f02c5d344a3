"""vLLM's own arguments: which flags take a value, short forms, canonical names.

The real table comes from `sparkpilot.vllm.flags` (generated from vLLM's source for several
versions). When it is missing or does not know a flag, a heuristic decides, so a launch always
parses: bare `--enable-*` / `--disable-*` / `--no-*` flags and flags followed by another option
take no value; everything else takes the next word.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

# vLLM's short aliases (vllm/engine/arg_utils.py add_argument("--long", "-short")).
SHORT = {
    "-tp": "--tensor-parallel-size",
    "-pp": "--pipeline-parallel-size",
    "-dp": "--data-parallel-size",
    "-dpn": "--data-parallel-rank",
    "-dpl": "--data-parallel-size-local",
    "-dpa": "--data-parallel-address",
    "-dpp": "--data-parallel-rpc-port",
    "-dcp": "--decode-context-parallel-size",
    "-ep": "--enable-expert-parallel",
    "-q": "--quantization",
    "-O": "--compilation-config",
    "-cc": "--compilation-config",
    "-ac": "--attention-config",
}

# Flags known to take no value (used only when the generated table is absent).
BOOLEAN = {
    "--enforce-eager", "--trust-remote-code", "--enable-prefix-caching", "--enable-chunked-prefill",
    "--enable-auto-tool-choice", "--disable-custom-all-reduce", "--async-scheduling",
    "--enable-expert-parallel", "--disable-log-requests", "--disable-log-stats", "--enable-log-requests",
    "--headless", "--enable-lora", "--disable-frontend-multiprocessing", "--skip-tokenizer-init",
    "--disable-sliding-window", "--enable-sleep-mode", "--calculate-kv-scales", "--disable-cascade-attn",
    "--enable-flashinfer-autotune", "--enable-eplb", "--enable-dbo", "--disable-uvicorn-access-log",
    "--enable-server-load-tracking", "--enable-force-include-usage", "--enable-prompt-tokens-details",
    "--enable-request-id-headers", "--return-tokens-as-token-ids", "--disable-fastapi-docs",
    "--enable-log-outputs", "--no-enable-prefix-caching", "--enable-mfu-metrics",
    "--kv-sharing-fast-prefill", "--disable-hybrid-kv-cache-manager", "--allow-deprecated-quantization",
}

ENTRY_MODULES = ("vllm.entrypoints.openai.api_server", "vllm.entrypoints.api_server",
                 "vllm.entrypoints.cli.main")


@functools.lru_cache(maxsize=8)
def table(version: str | None = None) -> Mapping[str, Any] | None:
    """The generated flag table for a vLLM version ({'--flag': FlagInfo}), or None when there is none.

    Uses sparkpilot.vllm.flags.load; when that module is not importable, reads the generated JSON
    (knowledge/vllm_flags/<version>.json) directly."""
    try:
        from sparkpilot.vllm import flags
    except Exception:  # noqa: BLE001
        return _json_table(version)
    try:
        return flags.load(version)
    except Exception:  # noqa: BLE001 - an unknown version or a half-built table must not break parsing
        return _json_table(version)


def table_versions() -> list[str]:
    try:
        from sparkpilot.vllm import flags
        return list(flags.versions())
    except Exception:  # noqa: BLE001
        return _json_versions()


def flags_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "knowledge" / "vllm_flags"


def _json_versions() -> list[str]:
    import json

    try:
        return list(json.loads((flags_dir() / "index.json").read_text())["versions"])
    except Exception:  # noqa: BLE001
        return []


def _json_table(version: str | None) -> dict[str, Any] | None:
    import json
    from types import SimpleNamespace

    versions = _json_versions()
    if not versions:
        return None
    version = version or versions[-1]
    try:
        data = json.loads((flags_dir() / f"{version}.json").read_text())
    except Exception:  # noqa: BLE001
        return None
    return {k: SimpleNamespace(**v) for k, v in data.get("flags", {}).items()}


@functools.lru_cache(maxsize=8)
def aliases(version: str | None = None) -> dict[str, str]:
    """Short and alternative spellings ('-tp' -> '--tensor-parallel-size') from the table."""
    out = dict(SHORT)
    for flag, info in (table(version) or {}).items():
        for a in getattr(info, "aliases", None) or []:
            out[a] = flag
    return out


def canonical(written: str, version: str | None = None) -> tuple[str, str | None]:
    """('--max_num_batched_tokens' | '-tp' | '--x.y') -> ('--max-num-batched-tokens', sub-key or None)."""
    short = aliases(version)
    if written in short and written != "-h":
        return short[written], None
    if written.startswith("-O") and not written.startswith("--") and len(written) > 2:
        return "--compilation-config", None
    name, sub = written, None
    if "." in name and name.startswith("--"):
        name, sub = name.split(".", 1)
    flag = "--" + name.lstrip("-").replace("_", "-")
    return short.get(flag, flag), sub


def dest_of(flag: str, sub: str | None = None, tbl: Mapping[str, Any] | None = None) -> str:
    info = (tbl or {}).get(flag)
    dest = getattr(info, "dest", None) or flag.lstrip("-").replace("-", "_")
    return f"{dest}.{sub}" if sub else dest


def takes_value(flag: str, next_word: str | None, tbl: Mapping[str, Any] | None = None) -> bool:
    info = (tbl or {}).get(flag)
    if info is not None and hasattr(info, "takes_value"):
        if getattr(info, "value_optional", False) or getattr(info, "takes_value", None) == "optional":
            return next_word is not None and not (next_word.startswith("-") and not _is_number(next_word))
        return bool(info.takes_value)
    if flag.startswith("--no-") and tbl and flag[:2] + flag[5:] in tbl:
        return False
    if flag in BOOLEAN or flag.startswith(("--enable-", "--disable-", "--no-")):
        return False
    if next_word is None:
        return False
    if next_word.startswith("-") and not _is_number(next_word):
        return False
    return True


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
