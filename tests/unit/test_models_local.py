"""The local-folder loader on safetensors files the test writes itself (header + zero bytes)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from sparkpilot import models
from sparkpilot.errors import UsageError
from sparkpilot.models import local

DATA = Path(__file__).parent.parent / "data" / "models"
SIZES = {"BF16": 2, "F16": 2, "F32": 4, "U8": 1, "I32": 4, "F8_E4M3": 1}


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]]) -> int:
    """A valid safetensors file: 8-byte length, JSON header, then zero bytes for the data."""
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = SIZES[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        f.write(b"\0" * offset)
    return offset


def _tiny_qwen3(folder: Path) -> int:
    cfg = json.loads((DATA / "qwen3_8b_config.json").read_text())["config"]
    cfg.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, head_dim=16, vocab_size=100)
    (folder / "config.json").write_text(json.dumps(cfg))
    h, i, v, hd = 64, 128, 100, 16
    t1 = {"model.embed_tokens.weight": ("BF16", [v, h]), "lm_head.weight": ("BF16", [v, h]),
          "model.norm.weight": ("BF16", [h])}
    t2 = {}
    for layer in range(2):
        p = f"model.layers.{layer}."
        t2.update({p + "self_attn.q_proj.weight": ("BF16", [4 * hd, h]), p + "self_attn.k_proj.weight": ("BF16", [2 * hd, h]),
                   p + "self_attn.v_proj.weight": ("BF16", [2 * hd, h]), p + "self_attn.o_proj.weight": ("BF16", [h, 4 * hd]),
                   p + "self_attn.q_norm.weight": ("BF16", [hd]), p + "self_attn.k_norm.weight": ("BF16", [hd]),
                   p + "mlp.gate_proj.weight": ("BF16", [i, h]), p + "mlp.up_proj.weight": ("BF16", [i, h]),
                   p + "mlp.down_proj.weight": ("BF16", [h, i]), p + "input_layernorm.weight": ("BF16", [h]),
                   p + "post_attention_layernorm.weight": ("BF16", [h])})
    n = write_safetensors(folder / "model-00001-of-00002.safetensors", t1)
    n += write_safetensors(folder / "model-00002-of-00002.safetensors", t2)
    weight_map = {k: "model-00001-of-00002.safetensors" for k in t1}
    weight_map.update({k: "model-00002-of-00002.safetensors" for k in t2})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": n}, "weight_map": weight_map}))
    return n


def test_folder_headers_sum_to_the_shapes(tmp_path):
    n = _tiny_qwen3(tmp_path)
    info = models.resolve(str(tmp_path))
    assert info.source == "local" and info.model_type == "qwen3"
    assert info.weight_bytes == n
    assert info.extra["weight_bytes_by_dtype"] == {"BF16": n}
    assert info.num_parameters * 2 == n                      # the shape model counts every tensor written


def test_header_only_is_read(tmp_path):
    """A file whose data part is missing still gives its sizes: only the header is read."""
    n = _tiny_qwen3(tmp_path)
    for p in tmp_path.glob("*.safetensors"):
        header_len = struct.unpack("<Q", p.read_bytes()[:8])[0]
        with open(p, "r+b") as f:
            f.truncate(8 + header_len)
    assert models.resolve(str(tmp_path)).weight_bytes == n


def test_index_total_size_when_shards_are_absent(tmp_path):
    n = _tiny_qwen3(tmp_path)
    for p in tmp_path.glob("*.safetensors"):
        p.unlink()
    info = models.resolve(str(tmp_path))
    assert info.weight_bytes == n and "index" in info.sources["weight_bytes"]


def test_quantize_config_json_beside_config(tmp_path):
    _tiny_qwen3(tmp_path)
    (tmp_path / "quantize_config.json").write_text(json.dumps({"quant_method": "gptq", "bits": 4, "group_size": 128}))
    info = models.resolve(str(tmp_path))
    assert info.quantization == "gptq" and info.quant_bits == 4


@pytest.mark.parametrize("content,msg", [(b"", "shorter than 8"), (struct.pack("<Q", 10) + b"{not json}", "not JSON"),
                                         (struct.pack("<Q", 1 << 40), "header length")])
def test_broken_safetensors_is_one_line_usage_error(tmp_path, content, msg):
    _tiny_qwen3(tmp_path)
    (tmp_path / "model-00001-of-00002.safetensors").write_bytes(content)
    with pytest.raises(UsageError, match=msg):
        models.resolve(str(tmp_path))


def test_folder_without_config(tmp_path):
    with pytest.raises(UsageError, match=r"no config\.json"):
        models.resolve(str(tmp_path))


def test_bad_config_json(tmp_path):
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(UsageError, match="not valid JSON"):
        local.load_folder(tmp_path)
