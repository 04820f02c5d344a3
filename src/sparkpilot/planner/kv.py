"""KV cache sizing, mirroring vLLM v1 (core/kv_cache_utils.py).

Per layer vLLM keeps a page of `block_size` tokens:
  full / sliding attention: block_size * 2 * kv_heads_per_rank * head_dim * dtype bytes
  MLA (DeepSeek-style):     block_size * (kv_lora_rank + rope dim) bytes (not split by TP)
  Mamba / linear attention: one page of per-sequence state (the attention block size is raised
                            until an attention page is at least a state page)
One kind of layer: num_blocks = available // page // layers.
Several kinds: layers are put in groups of equal size (padding the last one), every group shares
`group_size` tensors, num_blocks = available // (page * group_size), and a request needs
cdiv(len, block) blocks per full group, cdiv(min(window - 1 + batched tokens, len), block) + 1 per
sliding group and one block per Mamba group.
"GPU KV cache size" is max_concurrency * max_model_len on vLLM >= 0.20.2; older versions printed
num_blocks // groups * block_size (`tokens_legacy`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sparkpilot.models.info import ModelInfo
from sparkpilot.planner.memory import kv_dtype_bytes

DEFAULT_BLOCK = 16


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class KVLayout:
    full_layers: int = 0           # full attention (or MLA) layers on the largest PP stage
    sliding_layers: int = 0
    mamba_layers: int = 0
    token_bytes: float = 0.0       # per token per attention layer on one rank
    state_bytes: int = 0           # per sequence per Mamba layer on one rank
    window: int = 0
    block_size: int = DEFAULT_BLOCK

    @property
    def attention_free(self) -> bool:
        return not (self.full_layers or self.sliding_layers)

    def bytes_per_token(self) -> float:
        """Bytes one more token of context costs on one GPU once past the sliding window (display)."""
        return self.token_bytes * self.full_layers


def layout(info: ModelInfo, tp: int, pp: int, kv_cache_dtype: str | None, block_size: int | None = None) -> KVLayout:
    """The KV layout of the largest pipeline stage on one TP rank."""
    n = info.num_hidden_layers or 0
    linear = info.num_linear_layers or 0
    sliding = (info.num_sliding_layers or 0) if info.sliding_window else 0
    full = info.num_full_layers if info.num_full_layers is not None else max(n - linear - sliding, 0)
    stage = lambda k: math.ceil(k / pp) if k else 0  # noqa: E731
    eb = kv_dtype_bytes(kv_cache_dtype, info.dtype)
    if info.kv_lora_rank:  # MLA: one latent vector per token, replicated on every TP rank
        rope = info.qk_rope_head_dim or 64
        if eb == 1.0:  # fp8_ds_mla: fp8 latent + 4 fp32 scales + bf16 rope part
            token = info.kv_lora_rank + 16 + rope * 2
        else:
            token = (info.kv_lora_rank + rope) * eb
        bs = block_size or 64
    else:
        heads = info.num_attention_heads or 1
        hd = info.head_dim or (info.hidden_size or 0) // heads
        kvh = info.num_key_value_heads or heads
        per_rank = max(1, kvh // tp) if kvh >= tp else 1
        token = 2 * per_rank * hd * eb
        bs = block_size or DEFAULT_BLOCK
    lay = KVLayout(full_layers=stage(full), sliding_layers=stage(sliding), mamba_layers=stage(linear),
                   token_bytes=token, window=info.sliding_window or 0, block_size=bs)
    if linear:
        # the model facts give the conv state in the model dtype and the recurrent state in the
        # config's mamba_ssm_dtype (fp32 for Qwen3.5/3.6), as vLLM allocates them
        state = info.linear_state_bytes_per_seq
        lay.state_bytes = int(state / tp) if state else int(token * bs)
        if lay.state_bytes > token * bs:  # vLLM raises the attention block size (multiple of 16)
            lay.block_size = 16 * cdiv(lay.state_bytes, int(16 * token))
    return lay


@dataclass
class KVCapacity:
    num_blocks: int
    tokens: int            # vLLM >= 0.20.2 "GPU KV cache size"
    tokens_legacy: int     # older "GPU KV cache size"
    max_concurrency: float
    groups: int
    group_size: int


def _groups(lay: KVLayout) -> tuple[int, list[tuple[str, int]]]:
    """(group_size, [(kind, number of groups)]) as vLLM groups the layers."""
    kinds = [(k, c) for k, c in (("full", lay.full_layers), ("sliding", lay.sliding_layers),
                                 ("mamba", lay.mamba_layers)) if c]
    if len(kinds) == 1:
        return kinds[0][1], [(kinds[0][0], 1)]
    lo = min(c for _, c in kinds)
    hi = max(c for _, c in kinds)
    size = hi if hi < lo * 1.5 else lo
    return size, [(k, cdiv(c, size)) for k, c in kinds]


def page_bytes(lay: KVLayout) -> int:
    if lay.attention_free:  # only Mamba / linear layers: a page is one sequence's state
        return int(lay.state_bytes)
    return int(lay.token_bytes * lay.block_size)


def blocks_per_request(lay: KVLayout, max_model_len: int, batched_tokens: int) -> int:
    _, groups = _groups(lay)
    total = 0
    for kind, count in groups:
        if kind == "full":
            total += count * cdiv(max_model_len, lay.block_size)
        elif kind == "sliding":
            span = min(lay.window - 1 + batched_tokens, max_model_len)
            total += count * (cdiv(span, lay.block_size) + 1)
        else:
            total += count
    return total


def need_bytes(lay: KVLayout, max_model_len: int, batched_tokens: int) -> int:
    """KV memory one request of max_model_len tokens needs (vLLM's check before it starts)."""
    if lay.attention_free and not lay.mamba_layers:
        return 0
    size, _ = _groups(lay)
    return size * page_bytes(lay) * blocks_per_request(lay, max_model_len, batched_tokens)


def capacity(lay: KVLayout, available: int, max_model_len: int, batched_tokens: int) -> KVCapacity:
    size, groups = _groups(lay)
    page = page_bytes(lay)
    n_groups = sum(c for _, c in groups)
    if page <= 0 or available <= 0:
        return KVCapacity(0, 0, 0, 0.0, n_groups, size)
    num_blocks = int(available // (page * size))
    per_req = blocks_per_request(lay, max_model_len, batched_tokens)
    conc = num_blocks / per_req if per_req else 0.0
    legacy = num_blocks // max(n_groups, 1) * lay.block_size
    return KVCapacity(num_blocks, int(conc * max_model_len), legacy, conc, n_groups, size)


def max_len_fit(lay: KVLayout, available: int, batched_tokens: int, upper: int) -> int:
    """Largest max_model_len whose one request fits in `available` bytes (0 if none)."""
    if available <= 0:
        return 0
    if need_bytes(lay, upper, batched_tokens) <= available:
        return upper
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if need_bytes(lay, mid, batched_tokens) <= available:
            lo = mid
        else:
            hi = mid - 1
    return lo
