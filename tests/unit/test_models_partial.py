"""A model folder still downloading (tests/data/models/partial, built from a public report of Qwen3-4B's
index): the index lists shards that are not there, or the shards hold less than its total_size. It is
sized by the index and reported with the missing shards, never planned as the small model its first
shard makes."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from sparkpilot import models
from sparkpilot.cli.main import main
from sparkpilot.errors import UsageError
from sparkpilot.models import registry

DATA = Path(__file__).parent.parent / "data" / "models" / "partial"
FACTS = json.loads((DATA / "qwen3_4b_download.json").read_text())
TENSORS = 398   # weight_map entries the public report counts


def _tensors(cfg: dict) -> list[tuple[str, list[int]]]:
    """Qwen3-4B's tensors (BF16) in the order HF writes them, with their shapes from the config."""
    h, i, v, hd = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    shape = {"input_layernorm.weight": [h], "mlp.down_proj.weight": [h, i], "mlp.gate_proj.weight": [i, h],
             "mlp.up_proj.weight": [i, h], "post_attention_layernorm.weight": [h], "self_attn.k_norm.weight": [hd],
             "self_attn.k_proj.weight": [kv, h], "self_attn.o_proj.weight": [h, q], "self_attn.q_norm.weight": [hd],
             "self_attn.q_proj.weight": [q, h], "self_attn.v_proj.weight": [kv, h]}
    out = [("model.embed_tokens.weight", [v, h])]
    for layer in range(cfg["num_hidden_layers"]):
        out += [(f"model.layers.{layer}.{t}", shape[t]) for t in FACTS["layer_tensors"]]
    return [*out, ("model.norm.weight", [h])]


def _header_only(path: Path, tensors: list[tuple[str, list[int]]]) -> int:
    """A safetensors file as far as its header (what the loader reads; the tensor data is left out)."""
    header, offset = {}, 0
    for name, shape in tensors:
        n = 2
        for d in shape:
            n *= d
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    return offset


def _download(folder: Path, present: int) -> list[int]:
    entry = registry.find_entry("Qwen/Qwen3-4B")
    assert entry is not None
    cfg = entry["config"]
    (folder / "config.json").write_text(json.dumps(cfg))
    tensors = _tensors(cfg)
    assert len(tensors) == sum(FACTS["tensors_per_shard"]) == TENSORS          # as the public report counts them
    wmap: dict[str, str] = {}
    sizes: list[int] = []
    at = 0
    for shard, count in zip(FACTS["shards"], FACTS["tensors_per_shard"], strict=True):
        part = tensors[at:at + count]
        at += count
        wmap.update({name: shard for name, _ in part})
        if len(sizes) < present:
            sizes.append(_header_only(folder / shard, part))
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": FACTS["total_size"]}, "weight_map": wmap}))
    return sizes


def test_the_whole_download_adds_up_to_the_published_total(tmp_path):
    sizes = _download(tmp_path, present=3)
    assert sum(sizes) == FACTS["total_size"]                             # 3.96G + 3.99G + 99M
    info = models.resolve(str(tmp_path))
    assert info.weight_bytes == FACTS["total_size"] and not info.warnings


def test_missing_shards_are_reported_and_the_index_sizes_the_model(tmp_path):
    sizes = _download(tmp_path, present=1)
    assert sizes[0] < FACTS["total_size"] / 2                            # what was planned before: ~4 GB
    info = models.resolve(str(tmp_path))
    assert info.weight_bytes == FACTS["total_size"]
    assert "2 of 3 shards missing" in info.sources["weight_bytes"]
    warn = " ".join(info.warnings)
    assert "model-00002-of-00003.safetensors" in warn and "model-00003-of-00003.safetensors" in warn
    assert "model-00001-of-00003.safetensors" not in warn


def test_plan_of_a_partial_folder_says_so(tmp_path, capsys):
    _download(tmp_path, present=2)
    assert main(["plan", str(tmp_path), "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["weights_gib_per_gpu"] == pytest.approx(FACTS["total_size"] / 2**30, rel=0.02)
    assert main(["plan", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "incomplete download: 1 of 3 shards missing (model-00003-of-00003.safetensors)" in out


def test_shards_holding_less_than_total_size(tmp_path):
    _download(tmp_path, present=3)
    shard2 = tmp_path / FACTS["shards"][1]
    header = json.loads(shard2.read_bytes()[8:])
    _header_only(shard2, [(k, v["shape"]) for k, v in list(header.items())[:100]])   # a stale shard 2
    info = models.resolve(str(tmp_path))
    assert info.weight_bytes == FACTS["total_size"]
    assert "of the index's total_size 8,044,936,192" in info.warnings[0]


def test_partial_without_total_size_is_one_line_bad_input(tmp_path):
    _download(tmp_path, present=1)
    index = tmp_path / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    index.write_text(json.dumps({"weight_map": data["weight_map"]}))
    with pytest.raises(UsageError, match="incomplete download: 2 of 3 shards missing"):
        models.resolve(str(tmp_path))
