"""NVFP4 checkpoints in the catalog record which modules stay unquantised (the checkpoint's own
quantization ignore / exclude_modules list, as published), since that decides the MoE backend
(CONTRACTS.md "MoE backend"): Marlin for NVFP4 experts, and an unquantised MTP drafter under a
Marlin body needs its own backend. The lists come from the checkpoints' hf_quant_config.json."""

from __future__ import annotations

import pytest

from sparkpilot.models import catalog_ids, lookup, moe, registry
from sparkpilot.models.quant import component_quantized, detect

NVFP4 = [mid for mid in catalog_ids() if getattr(lookup(mid), "quantization", None) == "nvfp4"]


def test_the_catalog_has_the_nvfp4_checkpoints_spark_recipes_run():
    for mid in ("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-NVFP4", "nvidia/Qwen3-Next-80B-A3B-Instruct-NVFP4",
                "lukealonso/MiniMax-M2.7-NVFP4", "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-NVFP4"):
        assert mid in NVFP4


@pytest.mark.parametrize("mid", NVFP4)
def test_every_nvfp4_entry_records_its_unquantised_modules(mid):
    q = registry.find_entry(mid)["config"]["quantization_config"]
    if q.get("quant_algo") == "MIXED_PRECISION":   # it lists what is quantised; the rest stays bf16
        assert q["quantized_layers"] and {"lm_head", "mtp.*"} <= set(lookup(mid).quant_ignored)
        return
    listed = q.get("exclude_modules", q.get("ignore"))
    assert isinstance(listed, list), f"{mid}: no exclude_modules/ignore list recorded"
    assert lookup(mid).quant_ignored == [str(x) for x in listed]
    src = registry.find_entry(mid)["sources"]
    assert "hf_quant_config.json" in src["config"] or "config.json" in src["config"]


def test_qwen3_next_nvfp4_keeps_its_drafter_unquantised():
    info = lookup("nvidia/Qwen3-Next-80B-A3B-Instruct-NVFP4")
    assert "mtp.layers.0*" in info.quant_ignored
    assert moe.experts_quantized(info) and not moe.drafter_quantized(info)
    assert moe.body_backend(info) == "marlin"
    assert moe.drafter_backend(info, None, "marlin") == "triton"


def test_nemotron_nano_nvfp4_experts_are_marlin():
    info = lookup("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-NVFP4")
    assert info.is_moe and moe.body_backend(info) == "marlin"
    assert "lm_head" in info.quant_ignored and info.kv_cache_quant == "fp8"


def test_an_mtp_block_named_in_the_ignore_list_is_unquantised():
    """`mtp.layers.0*` names the one MTP block; it was compared against mtp.layers.{0,1,3,...}."""
    q = detect({"quantization_config": {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16,
                                        "exclude_modules": ["lm_head", "mtp.layers.0*"]}})
    assert not component_quantized(q, "mtp") and component_quantized(q, "experts")


def test_minimax_m27_nvfp4_attention_stays_bf16_and_needs_two_sparks():
    info = lookup("lukealonso/MiniMax-M2.7-NVFP4")
    assert any(p.endswith("self_attn*") for p in info.quant_ignored)
    assert not component_quantized(detect(registry.find_entry(info.id)["config"]), "attn")
    assert moe.body_backend(info) == "marlin"
    assert info.weight_bytes / 2**30 > 121.69            # CUDA's total on one GB10


def test_nemotron_super_nvfp4_mixed_precision_experts_nvfp4_drafter_bf16():
    """modelopt MIXED_PRECISION lists what is quantised (quantized_layers); what it does not list is bf16."""
    info = lookup("nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-NVFP4")
    q = detect(registry.find_entry(info.id)["config"])
    assert q.quantization == "nvfp4" and q.layers["backbone.layers.1.mixer.experts.0.up_proj"] == "NVFP4"
    assert component_quantized(q, "experts") and not component_quantized(q, "mtp")
    assert info.num_mtp_layers == 1
    assert moe.body_backend(info) == "marlin" and moe.drafter_backend(info, None, "marlin") == "triton"


@pytest.mark.parametrize("mid", NVFP4)
def test_nvfp4_entries_added_for_spark_recipes_name_them(mid):
    e = registry.find_entry(mid)
    if mid == "nvidia/Llama-3.3-70B-Instruct-FP4":
        return   # an earlier entry, from NVIDIA's Model Optimizer list
    assert e.get("recipes") and all(r.startswith("https://github.com/") for r in e["recipes"])
