"""One way to hide secrets wherever sparkpilot shows a command, an environment or a log line:
HF tokens (`hf_...`), `*TOKEN*`/`*API_KEY*`/`*SECRET*`/`*PASSWORD*` assignments, and vLLM's secret
flags (`--hf-token X`, `--api-key=X`, `hf_token: X`). `$VAR` / `${VAR}` references stay readable."""

from __future__ import annotations

import re

_SECRET_ASSIGN = re.compile(
    r"\b((?:HF_TOKEN|HUGGING_FACE_HUB_TOKEN|HUGGINGFACE_TOKEN|NGC_API_KEY|[A-Z0-9_]*(?:TOKEN|API_KEY|SECRET|PASSWORD)"
    r"[A-Z0-9_]*)\s*[=:]\s*[\"']?)([^\s\"'$<{][^\s\"']*)")
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")
# vLLM's own secret flags and their config-file / JSON keys: --hf-token X, --api-key=X, `api-key: X`,
# "hf_token": "X"; a bare `--hf-token` (it takes an optional value) followed by a flag stays as it is
_SECRET_FLAG = re.compile(
    r"((?:--(?:hf|api)[-_](?:token|key)(?:=|[ \t]+)|[\"']?\b(?:hf|api)[-_](?:token|key)[\"']?[ \t]*:[ \t]*\[?)[\"']?)"
    r"([^\s\"'$<{\-][^\s\"',}\]]*)")


def mask_secrets(text: str) -> str:
    """Hide secret values (HF tokens, API keys); `$VAR` / `${VAR}` references stay readable."""
    text = _SECRET_ASSIGN.sub(lambda m: m.group(1) + "***", text)
    text = _SECRET_FLAG.sub(lambda m: m.group(1) + "***", text)
    return _HF_TOKEN.sub("hf_***", text)
