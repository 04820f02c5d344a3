"""A model in a local folder: config.json plus the safetensors headers (never the tensors).

A .safetensors file starts with an 8-byte little-endian header length N, then N bytes of JSON:
{"name": {"dtype": "BF16", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}.
Reading the header gives every tensor's size without touching the data.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from sparkpilot.errors import UsageError

MAX_HEADER = 100 * 1024 * 1024          # safetensors caps headers at 100 MB


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of one safetensors file."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise UsageError(f"{path}: not a safetensors file (shorter than 8 bytes)")
        (n,) = struct.unpack("<Q", raw)
        if n <= 0 or n > MAX_HEADER:
            raise UsageError(f"{path}: not a safetensors file (header length {n})")
        data = f.read(n)
    if len(data) != n:
        raise UsageError(f"{path}: truncated safetensors header")
    try:
        header = json.loads(data)
    except ValueError as e:
        raise UsageError(f"{path}: safetensors header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise UsageError(f"{path}: safetensors header is not a JSON object")
    return header


def tensor_bytes(header: dict[str, Any]) -> dict[str, int]:
    """Bytes per dtype of the tensors one header describes."""
    out: dict[str, int] = {}
    for name, t in header.items():
        if name == "__metadata__" or not isinstance(t, dict):
            continue
        begin, end = t.get("data_offsets", (0, 0))
        out[str(t.get("dtype"))] = out.get(str(t.get("dtype")), 0) + int(end) - int(begin)
    return out


INDEX_NAME = "model.safetensors.index.json"
SIZE_SLACK = 0.01      # headers vs the index's total_size: tensor bytes agree exactly in HF-saved checkpoints


def read_index(folder: Path) -> tuple[set[str], int | None]:
    """(shard names the index's weight_map lists, its metadata.total_size) — empty/None when absent or unreadable."""
    try:
        data = json.loads((folder / INDEX_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set(), None
    if not isinstance(data, dict):
        return set(), None
    wmap = data.get("weight_map")
    meta = data.get("metadata")
    shards = {str(v) for v in wmap.values()} if isinstance(wmap, dict) else set()
    total = meta.get("total_size") if isinstance(meta, dict) else None
    return shards, int(total) if isinstance(total, (int, float)) and total > 0 else None


def folder_weights(folder: Path) -> tuple[int | None, dict[str, int], str | None]:
    """(total bytes, bytes per dtype, how) for the checkpoint in `folder`. A download in progress (the
    index lists shards that are not there, or the shards hold less than its total_size) is sized by the
    index and said in `how` ("incomplete download: ..."), never planned as the small model its first
    shards make; UsageError when the index cannot size it."""
    files = sorted(folder.glob("*.safetensors"))
    by_dtype: dict[str, int] = {}
    wanted, total = read_index(folder)
    if files:
        names = {p.name for p in files}
        if wanted & names:                  # only the shards the index names (skip consolidated.safetensors)
            files = [p for p in files if p.name in wanted]
        for p in files:
            for dt, n in tensor_bytes(read_header(p)).items():
                by_dtype[dt] = by_dtype.get(dt, 0) + n
        held = sum(by_dtype.values())
        missing = sorted(wanted - names) if wanted & names else []
        short = total is not None and held < total * (1 - SIZE_SLACK)
        if missing or short:
            what = (f"{len(missing)} of {len(wanted)} shards missing ({_names(missing)})" if missing else
                    f"the shards hold {held:,} bytes of the index's total_size {total:,}" if total else "")
            if total is None:
                raise UsageError(f"{folder}: incomplete download: {what}; its {INDEX_NAME} gives no total_size "
                                 "to size the model by: finish the download (or plan the model by its Hub id)")
            return total, {}, (f"incomplete download: {what}; sized by {INDEX_NAME} total_size "
                               f"({total / 1e9:.2f} GB), the shards present hold {held / 1e9:.2f} GB")
        return held, by_dtype, f"safetensors headers of {len(files)} file(s)"
    if total is not None:
        return total, {}, f"{INDEX_NAME} total_size"
    return None, {}, None


def _names(missing: list[str], most: int = 4) -> str:
    shown = ", ".join(missing[:most])
    return shown + (f" and {len(missing) - most} more" if len(missing) > most else "")


def load_folder(folder: Path):
    """ModelInfo of the model in a local folder."""
    from sparkpilot.models.mapping import from_config

    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise UsageError(f"{folder}: no config.json in this folder")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise UsageError(f"{cfg_path}: not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise UsageError(f"{cfg_path}: not a JSON object")
    quant_config = None
    if "quantization_config" not in config:
        for name in ("quantize_config.json", "quant_config.json", "hf_quant_config.json"):
            qp = folder / name
            if qp.is_file():
                try:
                    qc = json.loads(qp.read_text())
                except ValueError:
                    continue
                if isinstance(qc, dict):
                    quant_config = qc.get("quantization") if name == "hf_quant_config.json" else qc
                    if quant_config and name == "hf_quant_config.json":
                        quant_config = dict(quant_config, quant_method="modelopt")
                    break
    total, by_dtype, how = folder_weights(folder)
    info = from_config(config, model_id=str(folder), weight_bytes=total, quant_config=quant_config,
                       sources={"config": str(cfg_path), **({"weight_bytes": f"{folder} ({how})"} if how else {})})
    info.source = "local"
    if how and how.startswith("incomplete download"):
        info.warnings.append(f"{folder}: {how}: finish the download before starting it")
    if by_dtype:
        info.extra["weight_bytes_by_dtype"] = by_dtype
    return info
