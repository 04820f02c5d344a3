"""A model from the Hugging Face Hub: config.json and safetensors metadata, never the weights.

Uses huggingface_hub (optional extra `sparkpilot[hub]`): `hf_hub_download(id, "config.json")` and
`get_safetensors_metadata(id)` (which reads only the safetensors headers over HTTP ranges).
Results are cached as JSON in $SPARKPILOT_CACHE or ~/.cache/sparkpilot/hub/, so a model looked up
once works offline afterwards. The token (HF_TOKEN) is huggingface_hub's business; never printed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from sparkpilot.errors import SparkpilotError, UsageError

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def cache_dir() -> Path:
    base = os.environ.get("SPARKPILOT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "sparkpilot")
    return Path(base) / "hub"


def _cache_path(model_id: str) -> Path:
    return cache_dir() / (model_id.replace("/", "__") + ".json")


def cached(model_id: str) -> dict[str, Any] | None:
    path = _cache_path(model_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("config"), dict) else None


def _store(model_id: str, record: dict[str, Any]) -> None:
    path = _cache_path(model_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass                                     # a read-only home is no reason to fail


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """One quick TCP connect, so no network fails in seconds instead of huggingface_hub's retries.
    Behind an HTTP(S) proxy the proxy is what must answer."""
    import socket
    from urllib.parse import urlsplit

    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    parts = urlsplit(proxy or url)
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    if not host:
        return True
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def fetch_record(model_id: str) -> dict[str, Any]:
    """{"config", "weight_bytes", "weight_bytes_by_dtype"} from the Hub (network)."""
    try:
        import huggingface_hub as hf
    except ImportError:
        raise UsageError(f"unknown model {model_id}: not in the catalog, and huggingface_hub is not "
                         "installed to ask the Hub (pip install 'sparkpilot[hub]')") from None
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    if not _reachable(endpoint):
        raise UsageError(f"unknown model {model_id}: not in the catalog and the Hub ({endpoint}) cannot be "
                         "reached (no network?); pass a local model folder or --offline")
    try:
        cfg_file = hf.hf_hub_download(model_id, "config.json")
        config = json.loads(Path(cfg_file).read_text(encoding="utf-8"))
    except Exception as e:  # noqa: BLE001 - every Hub failure becomes one line
        raise UsageError(f"cannot read config.json of {model_id} from the Hub: {type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")) from None
    record: dict[str, Any] = {"config": config, "weight_bytes": None, "weight_bytes_by_dtype": {}}
    try:
        meta = hf.get_safetensors_metadata(model_id)
        by_dtype: dict[str, int] = {}
        for fm in meta.files_metadata.values():
            for t in fm.tensors.values():
                begin, end = t.data_offsets
                by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + int(end) - int(begin)
        record["weight_bytes"] = sum(by_dtype.values()) or None
        record["weight_bytes_by_dtype"] = by_dtype
    except Exception:  # noqa: BLE001 - no safetensors (e.g. GGUF only): config still useful
        pass
    if "quantization_config" not in config:
        for name in ("quantize_config.json", "hf_quant_config.json"):
            try:
                qc = json.loads(Path(hf.hf_hub_download(model_id, name)).read_text(encoding="utf-8"))
            except Exception:  # noqa: BLE001
                continue
            if name == "hf_quant_config.json" and isinstance(qc.get("quantization"), dict):
                qc = dict(qc["quantization"], quant_method="modelopt")
            record["quant_config"] = qc
            break
    return record


def load_hub(model_id: str, *, offline: bool = False):
    """ModelInfo from the Hub cache, or from the Hub itself when not offline."""
    from sparkpilot.models.mapping import from_config

    if not ID_RE.match(model_id):
        raise LookupError(model_id)              # not an org/name id: nothing to ask the Hub
    record = cached(model_id)
    if record is None:
        if offline:
            raise LookupError(model_id)
        record = fetch_record(model_id)
        _store(model_id, record)
    url = f"https://huggingface.co/{model_id}"
    try:
        info = from_config(record["config"], model_id=model_id, weight_bytes=record.get("weight_bytes"),
                           quant_config=record.get("quant_config"),
                           sources={"config": f"{url}/blob/main/config.json",
                                    "weight_bytes": f"{url} (safetensors metadata)"})
    except (TypeError, ValueError, KeyError) as e:
        raise SparkpilotError(f"cannot understand config.json of {model_id}: {e}", 2) from None
    info.source = "hub"
    if record.get("weight_bytes_by_dtype"):
        info.extra["weight_bytes_by_dtype"] = record["weight_bytes_by_dtype"]
    return info
