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
sliding group and 1 + speculative blocks per Mamba group (2 + in 'align' mode, see below).
Layers whose page sizes differ (Gemma 4: sliding 16 KV heads x 256, global 4 x 512) get one page
size: vLLM raises the block size of the smaller-page kind until the pages match
(v1/core/kv_cache_utils.unify_kv_cache_spec_page_size), so those layers hold more tokens per block.
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
    token_bytes: float = 0.0       # per token per attention layer on one rank (sliding layers)
    state_bytes: int = 0           # per sequence per Mamba layer on one rank
    window: int = 0
    block_size: int = DEFAULT_BLOCK
    full_token_bytes: float = 0.0  # per token per full layer when it differs (Gemma 4); 0: token_bytes
    mamba_blocks: int = 1          # blocks one request holds per Mamba group

    @property
    def full_tb(self) -> float:
        return self.full_token_bytes or self.token_bytes

    def block_of(self, kind: str) -> int:
        """Tokens per block of a layer kind after vLLM unifies the page sizes (the larger page wins
        and the smaller-page kind's block size is multiplied by the ratio)."""
        if kind == "mamba" or not (self.full_token_bytes and self.full_layers and self.sliding_layers):
            return self.block_size
        tb = self.full_tb if kind == "full" else self.token_bytes
        return int(self.block_size * max(self.full_tb, self.token_bytes) // tb)

    @property
    def attention_free(self) -> bool:
        return not (self.full_layers or self.sliding_layers)

    def bytes_per_token(self) -> float:
        """Bytes one more token of context costs on one GPU once past the sliding window (display)."""
        return self.full_tb * self.full_layers


def layout(info: ModelInfo, tp: int, pp: int, kv_cache_dtype: str | None, block_size: int | None = None,
           speculative_tokens: int = 0, mamba_align: bool = True, mixed_geometry_hybrid: bool = True) -> KVLayout:
    """The KV layout of the largest pipeline stage on one TP rank.

    speculative_tokens: MTP draft tokens (vLLM --speculative-config num_speculative_tokens). The
    drafter's MTP layers are attention layers with their own KV cache, like the target's full layers
    (gpu_model_runner builds KV specs for the drafter's layers too); the logs of cases 130/134 show
    it: "Add 3 padding layers" = 11 full (10 + 1 MTP) beside 30 linear layers.
    mamba_align: prefix caching on a hybrid model sets mamba_cache_mode 'align' ("Mamba cache mode
    is set to 'align' ... by default when prefix caching is enabled", vLLM 0.20.2 log of case 134).
    mixed_geometry_hybrid: False for vLLM before 0.21, which kept a full-length cache in every layer
    of Gemma 4 (sliding 16 x 256 beside global 4 x 512): one group of per-layer sizes
    (kv_cache_utils UniformTypeKVCacheSpecs). vllm-project/vllm#43308: gemma-4-31B AWQ on an A100,
    ~50 GB of KV cache, "~55k tokens" on 0.20.0 and "~525k" on 0.21.0.
    """
    n = info.num_hidden_layers or 0
    linear = info.num_linear_layers or 0
    sliding = (info.num_sliding_layers or 0) if info.sliding_window else 0
    full = info.num_full_layers if info.num_full_layers is not None else max(n - linear - sliding, 0)
    stage = lambda k: math.ceil(k / pp) if k else 0  # noqa: E731
    spec = max(int(speculative_tokens or 0), 0)
    mtp = (info.num_mtp_layers or 0) if spec else 0   # on the last PP stage, with the lm_head
    eb = kv_dtype_bytes(kv_cache_dtype, info.dtype)
    token: float   # KV bytes per token per layer on one rank
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
    full_token = 0.0
    if info.full_kv_heads and info.full_head_dim and not info.kv_lora_rank:
        # Gemma 4's global layers: vLLM's Gemma4Attention builds a plain Attention(num_kv_heads =
        # num_global_key_value_heads, head_size = global_head_dim) and, with attention_k_eq_v, loads
        # K into the V slot too (models/gemma4.py): the cache keeps K and V, 2 x heads x 512
        fkv = info.full_kv_heads
        fpr = max(1, fkv // tp) if fkv >= tp else 1
        full_token = 2 * fpr * info.full_head_dim * eb
        if full_token == token:
            full_token = 0.0
    lay = KVLayout(full_layers=stage(full) + mtp, sliding_layers=stage(sliding), mamba_layers=stage(linear),
                   token_bytes=token, window=info.sliding_window or 0, block_size=bs,
                   full_token_bytes=full_token)
    if full_token and lay.sliding_layers and not mixed_geometry_hybrid:
        # every layer holds max_model_len tokens: one group whose page is the sum of the layers' pages
        per_token = lay.full_layers * full_token + lay.sliding_layers * token
        lay = KVLayout(full_layers=1, token_bytes=per_token, block_size=bs)
    if linear:
        # the model facts give the conv state in the model dtype and the recurrent state in the
        # config's mamba_ssm_dtype (fp32 for Qwen3.5/3.6), as vLLM allocates them
        state = info.linear_state_bytes_per_seq
        lay.state_bytes = int(state / tp) if state else int(token * bs)
        conv_dim = getattr(info, "linear_conv_dim", None)
        if spec and conv_dim:
            # the conv state keeps kernel - 1 + num_speculative_tokens columns
            # (mamba_utils.MambaStateShapeCalculator: conv_kernel_size - 1 + num_spec); the printed
            # block sizes 2096 -> 2128 (2 tokens, case 130) -> 2144 (3 tokens, case 134) are 16
            # tokens of fp8 KV (16 KiB) per draft token = one 8192-wide bf16 conv column
            from sparkpilot.planner.memory import dtype_bytes
            lay.state_bytes += int(spec * conv_dim * dtype_bytes(info.dtype) / tp)
        if lay.state_bytes > token * bs:  # vLLM raises the attention block size (multiple of 16)
            lay.block_size = 16 * cdiv(lay.state_bytes, int(16 * token))
        # MambaSpec.max_memory_usage_bytes (v1/kv_cache_interface.py): one page per request, one per
        # speculative block, and one more in 'align' mode (the prefix-cache savepoint)
        lay.mamba_blocks = (2 if mamba_align else 1) + spec
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
    if lay.full_token_bytes and lay.full_layers and lay.sliding_layers:
        return int(max(lay.full_tb, lay.token_bytes) * lay.block_size)
    return int(lay.full_tb * lay.block_size) if not lay.sliding_layers else int(lay.token_bytes * lay.block_size)


def blocks_per_request(lay: KVLayout, max_model_len: int, batched_tokens: int) -> int:
    _, groups = _groups(lay)
    total = 0
    for kind, count in groups:
        if kind == "full":
            total += count * cdiv(max_model_len, lay.block_of("full"))
        elif kind == "sliding":
            span = min(lay.window - 1 + batched_tokens, max_model_len)
            total += count * (cdiv(span, lay.block_of("sliding")) + 1)
        else:
            total += count * lay.mamba_blocks
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
    # _report_kv_cache_config: num_blocks // groups * the smallest block size of the groups
    legacy = num_blocks // max(n_groups, 1) * min(lay.block_of(k) for k, _ in groups)
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
