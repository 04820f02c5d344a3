"""from_config on real config.json files (tests/data/models/*.json: source, config, expected)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkpilot.models import from_config

DATA = Path(__file__).parent.parent / "data" / "models"
CASES = sorted(DATA.glob("*.json"))


def test_there_are_cases():
    assert len(CASES) >= 4


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_from_config(path):
    case = json.loads(path.read_text())
    assert case["source"]["url"].startswith("https://")
    info = from_config(case["config"], model_id=path.stem, quant_config=case.get("quant_config"))
    for key, want in case["expected"].items():
        if key.endswith("_approx"):
            got = getattr(info, key[: -len("_approx")])
            assert got == pytest.approx(want, rel=0.02), key  # published figures are rounded
        elif key == "kv_bytes_per_token_per_layer":
            assert info.kv_bytes_per_token_per_layer() == want
        else:
            assert getattr(info, key) == want, key


def test_quant_config_argument_overrides():
    cfg = json.loads((DATA / "qwen3_8b_config.json").read_text())["config"]
    info = from_config(cfg, model_id="x", quant_config={"quant_method": "awq", "bits": 4, "group_size": 128})
    assert (info.quantization, info.quant_bits, info.quant_group_size) == ("awq", 4, 128)


def test_not_a_dict_is_rejected():
    with pytest.raises(TypeError):
        from_config("config.json", model_id="x")  # type: ignore[arg-type]


QUANT = sorted((DATA / "quant").glob("*.json"))


@pytest.mark.parametrize("path", QUANT, ids=[p.stem for p in QUANT])
def test_quantization_config(path):
    """Real quantization_config blocks (mixed schemes included) on the Qwen3-8B shapes."""
    case = json.loads(path.read_text())
    assert case["source"]["locator"]
    cfg = json.loads((DATA / "qwen3_8b_config.json").read_text())["config"]
    info = from_config(cfg, model_id=path.stem, quant_config=case["quantization_config"])
    for key, want in case["expected"].items():
        assert getattr(info, key) == want, key
    assert info.is_quantized


def test_mxfp4_counts_experts_only():
    from sparkpilot.models import quant

    q = quant.detect({"quantization_config": {"quant_method": "mxfp4"}})
    assert quant.bytes_per_param(q, "experts") == pytest.approx(4.25 / 8)
    assert quant.bytes_per_param(q, "attn") == 2
    fp8 = quant.detect({"quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128],
                                                "modules_to_not_convert": ["lm_head"]}})
    assert quant.bytes_per_param(fp8, "mlp") == pytest.approx(1 + 4 / 128 ** 2)
    assert quant.bytes_per_param(fp8, "lm_head") == 2


def test_hybrid_kv_plus_state_matches_a_measured_gb10_pool():
    """HowToSpark measured Qwen3.6-35B-A3B (NVFP4, fp8 KV) on a DGX Spark: a 4 GiB vLLM KV pool
    held 406,424 tokens at max-model-len 262,144, i.e. 2.58 GiB per full-length sequence (quoted
    in https://github.com/teilomillet/kvfit/blob/b2844661d7f2e52667922de65e5f37787a2e7d7c/docs/dgx-spark.md).
    Our per-sequence figure (10 full layers of fp8 KV + 30 DeltaNet states) must agree within 1%."""
    case = json.loads((DATA / "qwen3_6_35b_a3b_config.json").read_text())
    info = from_config(case["config"], model_id="Qwen/Qwen3.6-35B-A3B")
    per_seq = info.kv_cache_bytes(262_144, dtype_bytes=1)
    measured = 4 * 2**30 / (406_424 / 262_144)
    assert abs(per_seq / measured - 1) < 0.01, (per_seq / 2**30, measured / 2**30)


def test_gemma4_global_layers_size_their_own_kv():
    case = json.loads((DATA / "gemma4_31b_config.json").read_text())
    info = from_config(case["config"], model_id="google/gemma-4-31B-it")
    tokens = 100_000
    full = 10 * tokens * 2 * 4 * 512 * 2          # 4 KV heads x 512, K and V kept
    sliding = 50 * 1024 * 2 * 16 * 256 * 2        # window 1024, 16 KV heads x 256
    assert info.full_kv_bytes_per_token_per_layer() == 2 * 4 * 512 * 2
    assert info.kv_cache_bytes(tokens) == full + sliding
    # a model without a separate global geometry keeps one size for every layer
    plain = from_config(json.loads((DATA / "qwen3_8b_config.json").read_text())["config"], model_id="x")
    assert plain.full_kv_heads is None
    assert plain.full_kv_bytes_per_token_per_layer() == plain.kv_bytes_per_token_per_layer()
