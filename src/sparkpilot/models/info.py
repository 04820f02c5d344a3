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
    linear_state_bytes_per_seq: int | None = None  # state bytes per sequence per such layer, when known
    # weights
    weight_bytes: int | None = None          # total bytes of the checkpoint's tensors
    num_parameters: int | None = None        # total parameters, when published
    sources: dict[str, str] = field(default_factory=dict)  # fact -> public source (URL)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_attention_layers(self) -> int | None:
        """Layers that hold a per-token KV cache (full or sliding)."""
        if self.num_hidden_layers is None:
            return None
        return self.num_hidden_layers - self.num_linear_layers

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
