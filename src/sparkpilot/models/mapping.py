"""One mapping from a Hugging Face config.json to ModelInfo, for every family we know.

Families: llama, mistral/mistral3, qwen2, qwen3, qwen3_moe, qwen3_next and qwen3_5(_moe) (hybrid
Gated DeltaNet: layer_types / full_attention_interval), gpt_oss (alternating sliding window,
mxfp4), glm4_moe, deepseek_v3-like MLA (kv_lora_rank, qk_rope_head_dim), gemma3 (sliding pattern,
text_config), nemotron_h (hybrid Mamba2: hybrid_override_pattern), minimax_m2 and anything shaped
like them. Unknown values stay None.
"""

from __future__ import annotations

from typing import Any

from sparkpilot.models import quant as quantmod
from sparkpilot.models import shapes
from sparkpilot.models.info import ModelInfo

MOE_TYPES = {"qwen3_moe", "qwen2_moe", "qwen3_next", "qwen3_5_moe", "gpt_oss", "glm4_moe", "deepseek_v3",
             "deepseek_v2", "minimax_m2", "mixtral", "glm4_moe_lite", "kimi_k2", "llama4"}


def _dtype(config: dict[str, Any], text: dict[str, Any]) -> str | None:
    for c in (config, text):
        for key in ("torch_dtype", "dtype"):
            v = c.get(key)
            if isinstance(v, str):
                return v
    return None


def from_config(config: dict[str, Any], *, model_id: str, weight_bytes: int | None = None,
                quant_config: dict[str, Any] | None = None,
                sources: dict[str, str] | None = None) -> ModelInfo:
    """ModelInfo of a checkpoint from its config.json (a dict). `quant_config` overrides the
    config's quantization_config (some repos ship it in a separate quantize_config.json)."""
    if not isinstance(config, dict):
        raise TypeError("config must be a dict (the parsed config.json)")
    if quant_config:
        config = dict(config, quantization_config=quant_config)
    text = shapes.text_config(config)
    archs = config.get("architectures") or text.get("architectures") or []
    mt = str(text.get("model_type") or config.get("model_type") or "") or None
    top_mt = str(config.get("model_type") or "") or None
    q = quantmod.detect(config)
    kinds = shapes.layer_kinds(text)
    ne = shapes.num_experts(text)
    hd = shapes.head_dim(text)
    n_sliding = sum(1 for a, _ in kinds if a == "sliding")
    n_full = sum(1 for a, _ in kinds if a == "full")
    n_linear = sum(1 for a, _ in kinds if a in ("linear", "mamba"))
    n_layers = len(kinds) or shapes._i(text, "num_hidden_layers")
    first_dense = None
    if ne:
        first_dense = next((i for i, (_, f) in enumerate(kinds) if f == "moe"), None)
    tied = text.get("tie_word_embeddings", config.get("tie_word_embeddings"))
    parts = shapes.count(config)
    info = ModelInfo(
        id=model_id,
        architecture=archs[0] if archs else None,
        model_type=top_mt or mt,
        dtype=_dtype(config, text),
        quantization=q.quantization,
        quant_bits=q.bits,
        quant_group_size=q.group_size,
        is_moe=bool(ne) or (mt in MOE_TYPES and bool(ne)),
        is_gpt_oss=(mt == "gpt_oss" or "GptOssForCausalLM" in archs),
        num_hidden_layers=n_layers,
        hidden_size=shapes._i(text, "hidden_size"),
        intermediate_size=shapes._i(text, "intermediate_size"),
        vocab_size=shapes._i(text, "vocab_size"),
        num_attention_heads=shapes._i(text, "num_attention_heads"),
        num_key_value_heads=shapes._i(text, "num_key_value_heads", "num_attention_heads"),
        head_dim=hd,
        tie_word_embeddings=bool(tied) if tied is not None else None,
        max_position_embeddings=shapes._i(text, "max_position_embeddings", "max_seq_len",
                                          "seq_length"),
        num_experts=ne or None,
        num_experts_per_tok=shapes._i(text, "num_experts_per_tok", "experts_per_token", "moe_topk")
        if ne else None,
        moe_intermediate_size=shapes._i(text, "moe_intermediate_size", "intermediate_size") if ne else None,
        num_shared_experts=(shapes._i(text, "n_shared_experts", "num_shared_experts")
                            or (1 if shapes._i(text, "shared_expert_intermediate_size",
                                               "moe_shared_expert_intermediate_size") else 0)) if ne else None,
        first_k_dense_layers=first_dense,
        kv_lora_rank=shapes._i(text, "kv_lora_rank"),
        qk_rope_head_dim=shapes._i(text, "qk_rope_head_dim") if text.get("kv_lora_rank") else None,
        sliding_window=shapes._i(text, "sliding_window") if n_sliding else None,
        num_sliding_layers=n_sliding,
        num_linear_layers=n_linear,
        linear_state_bytes_per_seq=shapes.linear_state_bytes(text) if n_linear else None,
        weight_bytes=weight_bytes,
        sources=dict(sources or {}),
        quant_method=q.method,
        quant_scheme=q.scheme,
        quant_ignored=list(q.ignored),
        kv_cache_quant=q.kv_cache,
        num_full_layers=n_full,
        v_head_dim=shapes._i(text, "v_head_dim") if text.get("kv_lora_rank") else None,
        qk_nope_head_dim=shapes._i(text, "qk_nope_head_dim") if text.get("kv_lora_rank") else None,
        num_mtp_layers=shapes.mtp_layers(text),
        is_multimodal=isinstance(config.get("vision_config"), dict) or isinstance(config.get("audio_config"), dict),
        num_parameters=sum(parts.values()) or None,
        active_parameters=shapes.active(config) if ne else None,
    )
    glob = shapes.global_attention(text)
    if glob and n_full:
        info.full_kv_heads, info.full_head_dim, info.full_k_eq_v = glob
    if mt == "nemotron_h":
        info.extra["hybrid_override_pattern"] = text.get("hybrid_override_pattern")
    info.extra["params_by_component"] = parts
    return info
