"""Models: ModelInfo from the built-in catalog, a local folder, or the Hugging Face Hub.

    from_config(config, *, model_id, weight_bytes=None, quant_config=None, sources=None) -> ModelInfo
    lookup(model_id) -> ModelInfo | None      catalog only: offline, fast, case-insensitive
    resolve(model, *, offline=False) -> ModelInfo   catalog, then a local folder, then the Hub
    closest(model_id, n=3) -> list[str]       nearest catalog ids (for "did you mean")
    catalog_ids() -> list[str]

ModelInfo.quantization is one of: None, "fp8", "gptq", "awq", "autoround", "mxfp4", "nvfp4",
"w4a16"/"w8a16"/"w8a8" (compressed-tensors integer schemes), "bitsandbytes", "modelopt", or the raw
quant_method for anything else. quant_bits / quant_group_size / quant_scheme say more.
Everything here is offline except `resolve` without offline=True for an id the catalog lacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparkpilot.models.info import ModelInfo

__all__ = ["ModelInfo", "catalog_ids", "closest", "from_config", "lookup", "resolve"]


def from_config(config: dict[str, Any], *, model_id: str, weight_bytes: int | None = None,
                quant_config: dict[str, Any] | None = None,
                sources: dict[str, str] | None = None) -> ModelInfo:
    from sparkpilot.models.mapping import from_config as _from_config

    return _from_config(config, model_id=model_id, weight_bytes=weight_bytes, quant_config=quant_config,
                        sources=sources)


def _from_entry(entry: dict[str, Any], model_id: str | None = None) -> ModelInfo:
    sources = {k: v for k, v in (entry.get("sources") or {}).items() if isinstance(v, str)}
    info = from_config(entry["config"], model_id=entry["id"], weight_bytes=entry.get("weight_bytes"),
                       quant_config=entry.get("quant_config"), sources=sources)
    info.source = "catalog"
    if entry.get("num_parameters_published"):
        info.extra["num_parameters_published"] = entry["num_parameters_published"]
    if model_id and model_id != entry["id"]:
        info.extra["requested_as"] = model_id
    return info


def lookup(model_id: str) -> ModelInfo | None:
    """Catalog entry for an id (any case, with or without https://huggingface.co/), or None."""
    from sparkpilot.models import registry

    entry = registry.find_entry(model_id)
    return _from_entry(entry, model_id) if entry else None


def catalog_ids() -> list[str]:
    from sparkpilot.models import registry

    return registry.catalog_ids()


def closest(model_id: str, n: int = 3) -> list[str]:
    from sparkpilot.models import registry

    return registry.closest(model_id, n)


def resolve(model: str, *, offline: bool = False) -> ModelInfo:
    """ModelInfo for a catalog id, a local folder (config.json + safetensors headers), or a Hub id.

    Raises UsageError (exit 2) with the closest catalog entries when the model cannot be found.
    """
    from sparkpilot.errors import UsageError

    if not isinstance(model, str) or not model.strip():
        raise UsageError("no model given")
    model = model.strip()
    path = Path(model).expanduser()
    if path.is_dir():
        from sparkpilot.models.local import load_folder

        return load_folder(path)
    info = lookup(model)
    if info is not None:
        return info
    looks_local = model.startswith(("/", "./", "../", "~")) or path.exists()
    if looks_local:
        raise UsageError(f"{model}: no such model folder; closest catalog entries: "
                         + ", ".join(closest(model)))
    from sparkpilot.models import hub

    try:
        return hub.load_hub(model, offline=offline)
    except LookupError:
        where = "offline" if offline else "(not an org/name Hugging Face id)"
        raise UsageError(f"unknown model {model} {where}; closest catalog entries: "
                         + ", ".join(closest(model))) from None
    except UsageError as exc:                    # the Hub could not answer: still name the closest entries
        raise UsageError(f"{exc}; closest catalog entries: " + ", ".join(closest(model))) from None
