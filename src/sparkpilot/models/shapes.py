"""Parameters of a model computed from its config.json shapes, per component.

One function, `count(cfg)`, takes the text-model config (the mapping `config.text_config` when the
model nests it, see `text_config`) plus the top-level config (for vision towers and MTP heads) and
returns `{component: parameters}`. Components are what quantisation treats differently:
  embed, lm_head, norm, attn, linear_attn, mamba, mlp, experts, shared_experts, router, mtp, vision
Layer layout (`layer_kinds`) is shared with the ModelInfo mapping so KV sizing and parameter
counting agree on which layer is full, sliding, linear (Gated DeltaNet) or Mamba.
"""

from __future__ import annotations

from typing import Any

Config = dict[str, Any]

GATED_MLP = 3      # gate, up, down
RELU2_MLP = 2      # up, down (Nemotron-H uses squared ReLU without a gate)


def text_config(config: Config) -> Config:
    """The language-model part of a config (gemma3, mistral3, qwen3_5... nest it)."""
    inner = config.get("text_config") or config.get("llm_config") or config.get("language_config")
    if isinstance(inner, dict) and inner.get("hidden_size"):
        merged = dict(inner)
        for key in ("quantization_config", "tie_word_embeddings", "torch_dtype", "dtype"):
            if key not in merged and key in config:
                merged[key] = config[key]
        return merged
    return config


def _i(cfg: Config, *keys: str, default: int | None = None) -> int | None:
    for k in keys:
        v = cfg.get(k)
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            return int(v)
    return default


def head_dim(cfg: Config) -> int | None:
    hd = _i(cfg, "head_dim", "attention_head_dim", "kv_channels")
    if hd:
        return hd
    h, nh = _i(cfg, "hidden_size"), _i(cfg, "num_attention_heads")
    return h // nh if h and nh else None


def num_experts(cfg: Config) -> int:
    return _i(cfg, "num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts", default=0) or 0


def layer_kinds(cfg: Config) -> list[tuple[str, str]]:
    """Per decoder layer: (attention kind, ffn kind).

    attention: "full", "sliding", "linear" (Gated DeltaNet), "mamba", "none"
    ffn: "dense", "moe", "none"
    """
    n = _i(cfg, "num_hidden_layers", "num_layers", "n_layer") or 0
    mt = str(cfg.get("model_type") or "")
    pattern = cfg.get("hybrid_override_pattern")
    if isinstance(pattern, str) and pattern:                      # nemotron_h: one block per char
        table = {"M": ("mamba", "none"), "*": ("full", "none"), "-": ("none", "dense"), "E": ("none", "moe")}
        return [table.get(ch, ("none", "none")) for ch in pattern]
    attn = ["full"] * n
    types = cfg.get("layer_types")
    if isinstance(types, list) and len(types) == n:
        attn = [{"sliding_attention": "sliding", "linear_attention": "linear", "full_attention": "full",
                 "chunked_attention": "sliding", "mamba": "mamba"}.get(str(t), "full") for t in types]
    elif _i(cfg, "full_attention_interval"):                        # qwen3_next: every Nth is full
        k = _i(cfg, "full_attention_interval") or 1
        attn = ["full" if (i + 1) % k == 0 else "linear" for i in range(n)]
    elif _i(cfg, "sliding_window_pattern") and cfg.get("sliding_window"):   # gemma3: 5 local : 1 global
        k = _i(cfg, "sliding_window_pattern") or 1
        attn = ["full" if (i + 1) % k == 0 else "sliding" for i in range(n)]
    elif cfg.get("use_sliding_window") and cfg.get("sliding_window"):
        start = _i(cfg, "max_window_layers", default=0) or 0       # qwen2: layers >= max_window_layers slide
        attn = ["sliding" if i >= start else "full" for i in range(n)]
    ne = num_experts(cfg)
    if ne <= 0:
        ffn = ["dense"] * n
    else:
        first_dense = _i(cfg, "first_k_dense_replace", "first_k_dense_layers", default=0) or 0
        step = _i(cfg, "decoder_sparse_step", "moe_layer_freq", default=1) or 1
        dense_only = set(cfg.get("mlp_only_layers") or [])
        ffn = ["dense" if (i < first_dense or i in dense_only or (i + 1) % step != 0) else "moe"
               for i in range(n)]
    if mt == "gpt_oss":
        ffn = ["moe"] * n
    return list(zip(attn, ffn, strict=False))


def global_attention(cfg: Config) -> tuple[int, int, bool] | None:
    """(KV heads, head dim, K=V) of full-attention layers when they differ from the sliding ones
    (Gemma 4: global_head_dim, num_global_key_value_heads, attention_k_eq_v), else None."""
    ghd = _i(cfg, "global_head_dim")
    if not ghd or ghd == head_dim(cfg):
        return None
    nkv = _i(cfg, "num_global_key_value_heads", "num_key_value_heads") or 0
    return nkv, ghd, bool(cfg.get("attention_k_eq_v"))


def _attn_params(cfg: Config, h: int, kind: str = "full") -> int:
    """One attention layer (GQA or MLA), norms on q/k included, layer norms excluded."""
    nh = _i(cfg, "num_attention_heads") or 0
    mt = str(cfg.get("model_type") or "")
    glob = global_attention(cfg) if kind == "full" else None
    if glob:                                                        # Gemma 4 global layers: own geometry
        nkv, ghd, k_eq_v = glob
        return h * nh * ghd + (1 if k_eq_v else 2) * h * nkv * ghd + nh * ghd * h + 2 * ghd
    if cfg.get("kv_lora_rank"):                                     # MLA (DeepSeek-V2/V3, Kimi, GLM-lite)
        kv_lora = _i(cfg, "kv_lora_rank") or 0
        rope = _i(cfg, "qk_rope_head_dim") or 0
        nope = _i(cfg, "qk_nope_head_dim") or 0
        vdim = _i(cfg, "v_head_dim") or nope
        q_lora = _i(cfg, "q_lora_rank")
        qdim = nh * (nope + rope)
        q = (h * q_lora + q_lora + q_lora * qdim) if q_lora else h * qdim
        kv = h * (kv_lora + rope) + kv_lora + kv_lora * nh * (nope + vdim)
        return q + kv + nh * vdim * h
    hd = head_dim(cfg) or 0
    nkv = _i(cfg, "num_key_value_heads", default=nh) or nh
    gate = 2 if cfg.get("attn_output_gate") or mt == "qwen3_next" else 1
    q, kv, o = h * nh * hd * gate, 2 * h * nkv * hd, nh * hd * h
    bias = 0
    if cfg.get("attention_bias") or mt in ("qwen2", "qwen2_moe"):
        bias = nh * hd * gate + 2 * nkv * hd
        if mt in ("gpt_oss", "llama", "mistral") and cfg.get("attention_bias"):
            bias += h                                               # o_proj bias
    qk_norm = 0
    if mt.startswith(("qwen3", "gemma3", "gemma4", "olmo2", "seed_oss")) or cfg.get("use_qk_norm"):
        if cfg.get("qk_norm_type") == "per_layer" or mt == "minimax_m2":
            qk_norm = nh * hd + nkv * hd
        else:
            qk_norm = 2 * hd
    sinks = nh if mt == "gpt_oss" else 0
    return q + kv + o + bias + qk_norm + sinks


def _linear_attn_params(cfg: Config, h: int) -> int:
    """Gated DeltaNet layer (Qwen3-Next, Qwen3.5/3.6)."""
    nk, nv = _i(cfg, "linear_num_key_heads") or 0, _i(cfg, "linear_num_value_heads") or 0
    dk, dv = _i(cfg, "linear_key_head_dim") or 0, _i(cfg, "linear_value_head_dim") or 0
    kernel = _i(cfg, "linear_conv_kernel_dim", default=4) or 4
    key_dim, value_dim = nk * dk, nv * dv
    conv_dim = 2 * key_dim + value_dim
    in_proj = h * (2 * key_dim + 2 * value_dim) + h * 2 * nv     # qkvz + ba
    return in_proj + conv_dim * kernel + 2 * nv + dv + value_dim * h   # conv, dt_bias+A_log, norm, out


def ssm_state_dtype_bytes(cfg: Config, default: int = 2) -> int:
    """Bytes per element of the recurrent (SSM / DeltaNet) state: the config's mamba_ssm_dtype
    (Qwen3.5/3.6 ship "float32"), else the model dtype."""
    for key in ("mamba_ssm_dtype", "mamba_ssm_cache_dtype", "ssm_state_dtype"):
        v = str(cfg.get(key) or "").lower()
        if v in ("float32", "fp32"):
            return 4
        if v in ("bfloat16", "float16", "bf16", "fp16"):
            return 2
    return default


def linear_state_bytes(cfg: Config, dtype_bytes: int = 2) -> int | None:
    """Per-sequence state of one Gated DeltaNet or Mamba2 layer: the conv state (model dtype) plus
    the recurrent state (ssm_state_dtype_bytes)."""
    state_bytes = ssm_state_dtype_bytes(cfg, dtype_bytes)
    if _i(cfg, "linear_num_value_heads"):
        nk, nv = _i(cfg, "linear_num_key_heads") or 0, _i(cfg, "linear_num_value_heads") or 0
        dk, dv = _i(cfg, "linear_key_head_dim") or 0, _i(cfg, "linear_value_head_dim") or 0
        kernel = _i(cfg, "linear_conv_kernel_dim", default=4) or 4
        conv = (2 * nk * dk + nv * dv) * (kernel - 1)
        return conv * dtype_bytes + nv * dk * dv * state_bytes
    if _i(cfg, "mamba_num_heads"):
        d_inner, groups, d_state, kernel, nheads, hdim = _mamba_dims(cfg)
        conv = (d_inner + 2 * groups * d_state) * (kernel - 1)
        return conv * dtype_bytes + nheads * hdim * d_state * state_bytes
    return None


def _mamba_dims(cfg: Config) -> tuple[int, int, int, int, int, int]:
    nheads = _i(cfg, "mamba_num_heads") or 0
    hdim = _i(cfg, "mamba_head_dim") or 0
    d_inner = nheads * hdim
    groups = _i(cfg, "n_groups", "mamba_n_groups", default=1) or 1
    d_state = _i(cfg, "ssm_state_size", "mamba_d_state", default=128) or 128
    kernel = _i(cfg, "conv_kernel", "mamba_d_conv", default=4) or 4
    return d_inner, groups, d_state, kernel, nheads, hdim


def _mamba_params(cfg: Config, h: int) -> int:
    d_inner, groups, d_state, kernel, nheads, _ = _mamba_dims(cfg)
    conv_dim = d_inner + 2 * groups * d_state
    in_proj = h * (2 * d_inner + 2 * groups * d_state + nheads)
    conv = conv_dim * kernel + (conv_dim if cfg.get("use_conv_bias", True) else 0)
    return in_proj + conv + 3 * nheads + d_inner + d_inner * h     # dt_bias, A_log, D, norm, out_proj


def _moe_params(cfg: Config, h: int) -> dict[str, int]:
    mt = str(cfg.get("model_type") or "")
    ne = num_experts(cfg)
    mi = _i(cfg, "moe_intermediate_size", "expert_intermediate_size") or _i(cfg, "intermediate_size") or 0
    relu2 = mt == "nemotron_h"
    latent = _i(cfg, "moe_latent_size")                              # Nemotron-3 Super: experts in a latent dim
    eh = latent or h
    per_expert = (RELU2_MLP if relu2 else GATED_MLP) * eh * mi
    if mt == "gpt_oss":
        per_expert += 2 * mi + h                                     # gate_up and down biases
    experts = ne * per_expert
    router = ne * h
    if mt == "gpt_oss":
        router += ne                                                 # router bias
    if cfg.get("topk_method") == "noaux_tc" or mt in ("glm4_moe", "deepseek_v3", "minimax_m2", "nemotron_h",
                                                      "glm4_moe_lite"):
        router += ne                                                 # e_score_correction_bias
    if latent:
        router += 2 * h * latent                                     # fc1/fc2 latent projections
    shared = 0
    sei = _i(cfg, "shared_expert_intermediate_size", "moe_shared_expert_intermediate_size")
    n_shared = _i(cfg, "n_shared_experts", "num_shared_experts", default=0) or 0
    if sei:
        shared = (RELU2_MLP if relu2 else GATED_MLP) * h * sei
        if mt.startswith(("qwen2_moe", "qwen3_next", "qwen3_5_moe")):
            shared += h                                              # shared_expert_gate
    elif n_shared:
        shared = GATED_MLP * h * mi * n_shared
    return {"experts": experts, "router": router, "shared_experts": shared}


def _dense_mlp(cfg: Config, h: int) -> int:
    mt = str(cfg.get("model_type") or "")
    inter = _i(cfg, "intermediate_size", "ffn_hidden_size") or 0
    return (RELU2_MLP if mt == "nemotron_h" else GATED_MLP) * h * inter


def _layer(cfg: Config, h: int, attn: str, ffn: str) -> dict[str, int]:
    mt = str(cfg.get("model_type") or "")
    out: dict[str, int] = {}
    norms = 0
    if attn in ("full", "sliding"):
        out["attn"] = _attn_params(cfg, h, attn)
        norms += h
    elif attn == "linear":
        out["linear_attn"] = _linear_attn_params(cfg, h)
        norms += h
    elif attn == "mamba":
        out["mamba"] = _mamba_params(cfg, h)
        norms += h
    if ffn == "dense":
        out["mlp"] = _dense_mlp(cfg, h)
        norms += h
    elif ffn == "moe":
        out.update(_moe_params(cfg, h))
        norms += h
    if mt == "nemotron_h":
        norms = h                                                    # one norm per block
    elif mt.startswith("gemma"):
        norms *= 2                                                   # pre and post norms
        if mt.startswith("gemma4"):
            norms += 1                                               # layer_scalar
    out["norm"] = norms
    return out


def _add(total: dict[str, int], part: dict[str, int], into: str | None = None) -> None:
    for k, v in part.items():
        key = into or k
        total[key] = total.get(key, 0) + v


def _vision_params(vc: Config, text_hidden: int) -> int:
    """A ViT tower (SigLIP, Pixtral, Qwen-VL): blocks, patch embedding, merger/projector (estimate)."""
    hv = _i(vc, "hidden_size", "embed_dim", "width") or 0
    if not hv:
        return 0
    iv = _i(vc, "intermediate_size", "mlp_ratio") or 4 * hv
    if iv < 16:                                                      # mlp_ratio given
        iv = iv * hv
    layers = _i(vc, "num_hidden_layers", "depth", "num_layers") or 0
    patch = _i(vc, "patch_size", default=14) or 14
    chans = _i(vc, "num_channels", "in_channels", "in_chans", default=3) or 3
    temporal = _i(vc, "temporal_patch_size", default=1) or 1
    if str(vc.get("model_type") or "") == "gemma4_vision":       # gated MLP, q/k norms, 2D position table
        hd = _i(vc, "head_dim", default=hv // max(_i(vc, "num_attention_heads", default=1) or 1, 1)) or 0
        tower = layers * (4 * hv * hv + 2 * hd + 3 * hv * iv + 4 * hv)
        table = 2 * (_i(vc, "position_embedding_size", default=0) or 0) * hv
        return tower + chans * patch * patch * hv + table + 2 * hv + hv * text_hidden   # + std, projection
    if str(vc.get("model_type") or "") == "pixtral":             # RMSNorm, gated MLP, no biases, RoPE 2D
        m = _i(vc, "spatial_merge_size", default=2) or 2
        tower = layers * (4 * hv * hv + 3 * hv * iv + 2 * hv) + chans * patch * patch * hv + hv
        return tower + hv + m * m * hv * hv + hv * text_hidden + text_hidden * text_hidden   # projector
    gated = vc.get("hidden_act") == "silu"
    mlp = (3 if gated else 2) * hv * iv
    block = 4 * hv * hv + mlp + 5 * hv + iv + 4 * hv               # attn + mlp + biases + 2 norms
    patch_embed = chans * temporal * patch * patch * hv + hv
    image = _i(vc, "image_size")
    pos = (image // patch) ** 2 * hv if image else (_i(vc, "num_position_embeddings", default=0) or 0) * hv
    merge = _i(vc, "spatial_merge_size", default=1) or 1
    out_hidden = _i(vc, "out_hidden_size", default=text_hidden) or text_hidden
    hm = hv * merge * merge
    merger = (2 * hm + hm * hm + hm + hm * out_hidden + out_hidden) if merge > 1 else hv * out_hidden
    post_norm = 2 * hv if str(vc.get("model_type") or "").startswith("siglip") else 0
    return layers * block + patch_embed + pos + merger + post_norm


def count(config: Config) -> dict[str, int]:
    """Parameters per component of the checkpoint described by `config` (top-level config.json)."""
    cfg = text_config(config)
    h = _i(cfg, "hidden_size", "d_model") or 0
    vocab = _i(cfg, "vocab_size", "padded_vocab_size") or 0
    total: dict[str, int] = {"embed": vocab * h}
    tied = cfg.get("tie_word_embeddings")
    if tied is None:
        tied = config.get("tie_word_embeddings", False)
    total["lm_head"] = 0 if tied else vocab * h
    for attn, ffn in layer_kinds(cfg):
        _add(total, _layer(cfg, h, attn, ffn))
    total["norm"] = total.get("norm", 0) + h                         # final norm
    mtp = mtp_layers(cfg)
    if mtp:
        mtp_params = 0
        ffn = "moe" if num_experts(cfg) else "dense"
        for _ in range(mtp):
            layer = _layer(cfg, h, "full", ffn)
            mtp_params += sum(layer.values()) + 2 * h * h + 3 * h    # eh_proj / fc, enorm, hnorm, final
            if str(cfg.get("model_type") or "") in ("glm4_moe", "glm4_moe_lite", "deepseek_v3", "deepseek_v32"):
                mtp_params += 2 * vocab * h                          # its own embed_tokens and shared_head.head
        total["mtp"] = mtp_params
    vc = config.get("vision_config")
    if isinstance(vc, dict):
        total["vision"] = _vision_params(vc, h)
        if str(config.get("model_type") or "") == "gemma3":
            total["vision"] += _i(vc, "hidden_size") or 0           # mm_soft_emb_norm of the projector
    return {k: v for k, v in total.items() if v}


def mtp_layers(cfg: Config) -> int:
    return _i(cfg, "num_nextn_predict_layers", "mtp_num_hidden_layers", default=0) or 0


def active(config: Config) -> int:
    """Parameters used per token: everything except the experts not routed to."""
    cfg = text_config(config)
    parts = count(config)
    ne = num_experts(cfg)
    k = _i(cfg, "num_experts_per_tok", "experts_per_token", "moe_topk", default=0) or 0
    experts = parts.get("experts", 0)
    if ne and k:
        experts = experts * k // ne
    skip = ("experts", "mtp", "vision")
    return sum(v for c, v in parts.items() if c not in skip) + experts
