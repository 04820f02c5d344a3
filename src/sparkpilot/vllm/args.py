"""vLLM's own arguments: which flags take a value, short forms, canonical names.

The real table comes from `sparkpilot.vllm.flags` (generated from vLLM's source for several
versions). When it is missing or does not know a flag, a heuristic decides, so a launch always
parses: bare `--enable-*` / `--disable-*` / `--no-*` flags and flags followed by another option
take no value; everything else takes the next word.
"""

from __future__ import annotations

import functools
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
def table(version: str | None = None) -> dict[str, Any] | None:
    """The generated flag table for a vLLM version (None when engineer B's module is absent)."""
    try:
        from sparkpilot.vllm import flags  # noqa: PLC0415 - optional, heavy-ish
    except Exception:  # noqa: BLE001
        return None
    try:
        return flags.load(version)
    except Exception:  # noqa: BLE001 - an unknown version or a half-built table must not break parsing
        return None


def table_versions() -> list[str]:
    try:
        from sparkpilot.vllm import flags  # noqa: PLC0415
        return list(flags.versions())
    except Exception:  # noqa: BLE001
        return []


def canonical(written: str) -> tuple[str, str | None]:
    """('--max_num_batched_tokens' | '-tp' | '--x.y') -> ('--max-num-batched-tokens', sub-key or None)."""
    if written in SHORT:
        return SHORT[written], None
    if written.startswith("-O") and not written.startswith("--") and len(written) > 2:
        return "--compilation-config", None
    name, sub = written, None
    if "." in name and name.startswith("--"):
        name, sub = name.split(".", 1)
    return "--" + name.lstrip("-").replace("_", "-"), sub


def dest_of(flag: str, sub: str | None = None, tbl: dict | None = None) -> str:
    info = (tbl or {}).get(flag)
    dest = getattr(info, "dest", None) or flag.lstrip("-").replace("-", "_")
    return f"{dest}.{sub}" if sub else dest


def takes_value(flag: str, next_word: str | None, tbl: dict | None = None) -> bool:
    info = (tbl or {}).get(flag)
    if info is not None and hasattr(info, "takes_value"):
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
