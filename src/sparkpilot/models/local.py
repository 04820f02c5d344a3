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


def folder_weights(folder: Path) -> tuple[int | None, dict[str, int], str | None]:
    """(total bytes, bytes per dtype, how) for the checkpoint in `folder`."""
    files = sorted(folder.glob("*.safetensors"))
    by_dtype: dict[str, int] = {}
    index = folder / "model.safetensors.index.json"
    if files:
        names = {p.name for p in files}
        if index.is_file():                 # only the shards the index names (skip consolidated.safetensors)
            try:
                wanted = set(json.loads(index.read_text()).get("weight_map", {}).values())
            except ValueError:
                wanted = set()
            if wanted and wanted <= names:
                files = [p for p in files if p.name in wanted]
        for p in files:
            for dt, n in tensor_bytes(read_header(p)).items():
                by_dtype[dt] = by_dtype.get(dt, 0) + n
        return sum(by_dtype.values()), by_dtype, f"safetensors headers of {len(files)} file(s)"
    if index.is_file():
        try:
            total = json.loads(index.read_text()).get("metadata", {}).get("total_size")
        except ValueError:
            total = None
        if isinstance(total, (int, float)):
            return int(total), {}, "model.safetensors.index.json total_size"
    return None, {}, None


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
    if by_dtype:
        info.extra["weight_bytes_by_dtype"] = by_dtype
    return info
