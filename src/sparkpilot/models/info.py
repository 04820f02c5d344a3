"""ModelInfo: what the planner and the lint rules need to know about a model.

Built from a Hugging Face config.json (+ safetensors header sizes) by `sparkpilot.models`,
whether the config came from the built-in catalog, a local folder or the Hub.
Unknown values are None, never 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ModelInfo:
    id: str                                  # Hugging Face id or local path as given
    architecture: str | None = None          # e.g. "Qwen3MoeForCausalLM"
    model_type: str | None = None            # config.model_type, e.g. "qwen3_moe"
    dtype: str | None = None                 # torch_dtype of unquantised tensors, e.g. "bfloat16"
    quantization: str | None = None          # None | "fp8" | "gptq" | "awq" | "mxfp4" | "nvfp4" | "compressed-tensors" | ...
    quant_bits: int | None = None            # 4, 8 ... when known
    quant_group_size: int | None = None
    is_moe: bool = False
    is_gpt_oss: bool = False                 # checkpoint in gpt-oss format (mxfp4 works only there)
    # shapes
    num_hidden_layers: int | None = None
    hidden_size: int | None = None
    intermediate_size: int | None = None
    vocab_size: int | None = None
    num_attention_heads: int | None = None
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    tie_word_embeddings: bool | None = None
    max_position_embeddings: int | None = None
    # MoE
    num_experts: int | None = None
    num_experts_per_tok: int | None = None
    moe_intermediate_size: int | None = None
    num_shared_experts: int | None = None
    first_k_dense_layers: int | None = None  # leading dense layers before MoE layers
    # attention layout per layer kind (for KV cache sizing)
    kv_lora_rank: int | None = None          # MLA: compressed KV rank (DeepSeek-style)
    qk_rope_head_dim: int | None = None      # MLA: decoupled RoPE key dim
    sliding_window: int | None = None        # window of sliding-window layers
    num_sliding_layers: int = 0              # how many layers use the sliding window
    num_linear_layers: int = 0               # linear-attention / Mamba layers (per-sequence state, no per-token KV)
    # state bytes per sequence per such layer (conv in model dtype, recurrent state in mamba_ssm_dtype)
    linear_state_bytes_per_seq: int | None = None
    # weights
    weight_bytes: int | None = None          # total bytes of the checkpoint's tensors
    num_parameters: int | None = None        # total parameters, when published
    sources: dict[str, str] = field(default_factory=dict)  # fact -> public source (URL)
    extra: dict[str, Any] = field(default_factory=dict)
    # added by the models package (engineer C); all optional
    quant_method: str | None = None          # config quantization_config.quant_method as written
    quant_scheme: str | None = None          # e.g. "fp8-block128", "int4-g128", "nvfp4-g16"
    quant_ignored: list[str] = field(default_factory=list)  # modules left unquantised (as the config names them)
    warnings: list[str] = field(default_factory=list)  # what a plan must say (e.g. a download in progress)
    kv_cache_quant: str | None = None        # KV cache dtype the checkpoint asks for (e.g. modelopt "FP8")
    num_full_layers: int | None = None       # attention layers with a full-length KV cache
    v_head_dim: int | None = None            # MLA value head dim
    qk_nope_head_dim: int | None = None      # MLA non-RoPE query/key head dim
    num_mtp_layers: int = 0                  # multi-token-prediction layers stored in the checkpoint
    is_multimodal: bool = False              # has a vision/audio tower
    active_parameters: int | None = None     # parameters used per token (MoE), computed from shapes
    # full-attention layers with their own KV geometry (Gemma 4: 4 KV heads x 512, K=V) when it
    # differs from num_key_value_heads x head_dim of the sliding layers; None otherwise
    full_kv_heads: int | None = None
    full_head_dim: int | None = None
    full_k_eq_v: bool = False                # the checkpoint has no v_proj there (values = keys)
    source: str | None = None                # "catalog", "local" or "hub"

    @property
    def num_attention_layers(self) -> int | None:
        """Layers that hold a per-token KV cache (full or sliding)."""
        if self.num_hidden_layers is None:
            return None
        return self.num_hidden_layers - self.num_linear_layers

    @property
    def is_hybrid(self) -> bool:
        """Linear-attention or Mamba layers beside the attention layers."""
        return self.num_linear_layers > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def is_quantized(self) -> bool:
        return self.quantization is not None

    def kv_bytes_per_token_per_layer(self, dtype_bytes: float = 2.0) -> float | None:
        """KV cache bytes one token takes in one attention layer (K and V; MLA: latent + rope key)."""
        if self.kv_lora_rank is not None:
            return (self.kv_lora_rank + (self.qk_rope_head_dim or 0)) * dtype_bytes
        if self.num_key_value_heads is None or self.head_dim is None:
            return None
        return 2 * self.num_key_value_heads * self.head_dim * dtype_bytes

    def kv_cache_bytes(self, tokens: int, dtype_bytes: float = 2.0) -> float | None:
        """KV bytes of one sequence of `tokens` tokens over all layers (no TP split), plus the
        per-sequence state of linear-attention / Mamba layers. Sliding layers keep `sliding_window`."""
        per = self.kv_bytes_per_token_per_layer(dtype_bytes)
        if per is None or self.num_hidden_layers is None:
            return None
        full = self.num_full_layers
        if full is None:
            full = (self.num_attention_layers or 0) - self.num_sliding_layers
        window = min(tokens, self.sliding_window) if self.sliding_window else tokens
        state = self.num_linear_layers * (self.linear_state_bytes_per_seq or 0)
        full_per = self.full_kv_bytes_per_token_per_layer(dtype_bytes) or per   # per is not None: the same fallback
        return full * tokens * full_per \
            + self.num_sliding_layers * window * per + state

    def full_kv_bytes_per_token_per_layer(self, dtype_bytes: float = 2.0) -> float | None:
        """Like kv_bytes_per_token_per_layer, for the full-attention layers (K and V both counted,
        also when K=V: what a paged cache that keeps both holds)."""
        if self.full_kv_heads and self.full_head_dim:
            return 2 * self.full_kv_heads * self.full_head_dim * dtype_bytes
        return self.kv_bytes_per_token_per_layer(dtype_bytes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
