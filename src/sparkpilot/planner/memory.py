"""The memory model of one GPU, mirroring how vLLM sizes its budget.

vLLM (v1 gpu_worker.determine_available_memory) computes
    available KV = total * gpu_memory_utilization - weights - peak activation - non-torch
                   [- CUDA graph estimate, when "CUDA graph memory profiling" is on (v0.21+)]
where `total` is what CUDA reports for the device. On GB10 that is the unified LPDDR5X pool
as CUDA sees it, not the marketing 128 GB. This module gives each of those terms per GPU.
Everything here is pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sparkpilot import versions
from sparkpilot.models.info import ModelInfo

GIB = 1024 ** 3

# What CUDA reports as total memory on one GB10. vLLM prints it in
# "Free memory on device (116.05/121.69 GiB) on startup" on current DGX OS images; some boxes /
# kernels report 119.7 GiB ("Free memory on device cuda:0 (112.71/119.7 GiB)"), and
# /proc/meminfo MemTotal on a GB10 is 125483396 kB = 119.67 GiB (shared/data/host/gb10_meminfo_fixture).
GB10_CUDA_TOTAL_GIB = 121.69
GB10_CUDA_TOTAL_GIB_LOW = 119.7
# Memory the OS and a clean page cache hold at start: 121.69 - 116.05 free in the same log line.
GB10_OS_BASELINE_GIB = 5.64
SPARK_UTIL_MAX = 0.90          # the reference: never above 0.90
SPARK_UTIL_SAFE = (0.85, 0.87)  # the reference: 0.85-0.87 in practice

# vLLM's scheduler defaults for `vllm serve` (engine/arg_utils): 1024 sequences on GPUs with >= 70 GiB,
# 256 below; 8192 batched tokens (0.20 logged "max_num_batched_tokens=8192" on a 14.56 GiB T4,
# shared/data/memory/139; versions before ~0.11 used 2048 on small GPUs and A100s).
def vllm_default_limits(total_gib: float) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) vLLM picks when they are not given."""
    return (8192, 1024) if total_gib >= 70 else (8192, 256)


def default_utilization(max_model_len: int) -> float:
    """gpu-memory-utilization for a Spark: 0.87, 0.85 from 64K context, 0.83 from 256K."""
    if max_model_len >= 262144:
        return 0.83
    if max_model_len >= 65536:
        return 0.85
    return 0.87


_DTYPE_BYTES = {"float32": 4.0, "fp32": 4.0, "bfloat16": 2.0, "bf16": 2.0, "float16": 2.0,
                "fp16": 2.0, "half": 2.0, "auto": 2.0}


def dtype_bytes(name: str | None) -> float:
    return _DTYPE_BYTES.get((name or "bfloat16").lower(), 2.0)


KV_CACHE_DTYPES = ("auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc", "fp8_ds_mla",
                   "nvfp4", "nvfp4_ds_mla")


def kv_dtype_bytes(kv_cache_dtype: str | None, model_dtype: str | None) -> float:
    """Bytes of one KV element: fp8 variants 1, nvfp4 ~0.5625 (4 bits + an fp8 scale per 16)."""
    name = (kv_cache_dtype or "auto").lower()
    if name.startswith("fp8") or name == "int8":
        return 1.0
    if "fp4" in name:
        return 0.5625
    if name == "auto":
        return dtype_bytes(model_dtype) if dtype_bytes(model_dtype) < 4 else 2.0
    return dtype_bytes(name)


def quant_kind(info: ModelInfo, quantization: str | None = None) -> str:
    """One of none | fp8 | int8 | int4 | mxfp4 | nvfp4 for the checkpoint's linear layers."""
    q = (quantization or info.quantization or "").lower()
    if not q or q in ("none", "bf16", "bfloat16", "fp16"):
        return "none"
    if "mxfp4" in q or (info.is_gpt_oss and q in ("mxfp4", "")):
        return "mxfp4"
    if "nvfp4" in q or "fp4" in q or q == "modelopt_fp4":
        return "nvfp4"
    if "fp8" in q or q == "modelopt":
        return "fp8"
    if q in ("gptq", "awq", "gptq_marlin", "awq_marlin", "autoround", "auto-round", "int4", "w4a16") \
            or info.quant_bits == 4:
        return "int4"
    if info.quant_bits == 8 or "int8" in q or "w8a8" in q:
        return "int8"
    return "none"


def linear_bytes_per_param(kind: str, info: ModelInfo) -> float:
    """Bytes per weight of a quantised linear layer, scales included."""
    if kind == "fp8":
        return 1.0
    if kind == "int8":
        return 1.0 + 2.0 / max(info.quant_group_size or 128, 1)
    if kind == "int4":  # packed int4 + an fp16 scale and a packed int4 zero per group
        return 0.5 + 2.5 / max(info.quant_group_size or 128, 1)
    if kind == "mxfp4":  # 4 bits + one e8m0 scale per 32
        return 0.5 + 1.0 / 32
    if kind == "nvfp4":  # 4 bits + one fp8 scale per 16
        return 0.5 + 1.0 / 16
    return dtype_bytes(info.dtype)


@dataclass
class ParamCount:
    embed: int = 0
    lm_head: int = 0
    attention: int = 0      # all attention / linear-attention projections
    dense_mlp: int = 0      # dense MLPs (incl. leading dense layers of MoE models, shared experts)
    experts: int = 0        # routed experts
    small: int = 0          # norms, routers (kept in the model dtype)

    @property
    def total(self) -> int:
        return self.embed + self.lm_head + self.attention + self.dense_mlp + self.experts + self.small


def count_params(info: ModelInfo) -> ParamCount | None:
    """Parameters from the config shapes; None when a shape the count needs is unknown."""
    h, n_layers, vocab = info.hidden_size, info.num_hidden_layers, info.vocab_size
    heads = info.num_attention_heads
    if not (h and n_layers and vocab and heads):
        return None
    hd = info.head_dim or h // heads
    kvh = info.num_key_value_heads or heads
    p = ParamCount()
    p.embed = vocab * h
    p.lm_head = 0 if info.tie_word_embeddings else vocab * h
    p.attention = n_layers * (h * heads * hd * 2 + h * kvh * hd * 2)
    p.small = n_layers * 2 * h + h
    if info.is_moe and info.num_experts and info.moe_intermediate_size:
        dense = min(info.first_k_dense_layers or 0, n_layers)
        moe_layers = n_layers - dense
        p.experts = moe_layers * info.num_experts * 3 * h * info.moe_intermediate_size
        p.dense_mlp = dense * 3 * h * (info.intermediate_size or 0)
        p.dense_mlp += moe_layers * (info.num_shared_experts or 0) * 3 * h * info.moe_intermediate_size
        p.small += moe_layers * h * info.num_experts
    else:
        if not info.intermediate_size:
            return None
        p.dense_mlp = n_layers * 3 * h * info.intermediate_size
    return p


def _component_bytes(info: ModelInfo, quantization: str | None, only: str | None = None) -> int | None:
    """Bytes from the model package's per-component parameter count (linear attention, Mamba,
    vision towers included) and its quantisation rules; MTP layers are left out (vLLM loads them
    only for speculative decoding), or alone with only="mtp"."""
    parts = info.extra.get("params_by_component") if isinstance(info.extra, dict) else None
    if not parts:
        return None
    try:
        from sparkpilot.models.quant import Quant, expected_bytes
    except ImportError:  # pragma: no cover
        return None
    q = quantization or info.quantization
    quant = Quant(quantization=q, method=info.quant_method, bits=info.quant_bits,
                  group_size=info.quant_group_size, scheme=info.quant_scheme,
                  ignored=list(info.quant_ignored or []),
                  experts_only=bool(info.is_gpt_oss and q == "mxfp4"),
                  block_scales="block" in (info.quant_scheme or ""))
    if only:
        parts = {only: parts[only]} if parts.get(only) else {}
    else:
        parts = {k: v for k, v in parts.items() if k != "mtp"}
    return int(expected_bytes(parts, quant, dtype_bytes(info.dtype))) if parts else 0


def mtp_bytes(info: ModelInfo, quantization: str | None = None) -> int:
    """Bytes of the checkpoint's MTP layers (0 when it has none or their size is unknown)."""
    if not info.num_mtp_layers:
        return 0
    return _component_bytes(info, quantization, only="mtp") or 0


def shape_weight_bytes(info: ModelInfo, quantization: str | None = None) -> int | None:
    """Checkpoint bytes computed from shapes and the quantisation (when bytes are not published)."""
    if quantization is None or quantization == info.quantization:
        from_parts = _component_bytes(info, quantization)
        if from_parts:
            return from_parts
    p = count_params(info)
    if p is None:
        return None
    kind = quant_kind(info, quantization)
    base = dtype_bytes(info.dtype)
    lin = linear_bytes_per_param(kind, info)
    if kind == "mxfp4":  # gpt-oss: only the routed experts are mxfp4
        body = p.attention * base + p.dense_mlp * base + p.experts * lin
    else:
        body = (p.attention + p.dense_mlp + p.experts) * lin
    return int(body + (p.embed + p.lm_head + p.small) * base)


# gpt-oss mxfp4 experts are re-laid out (padded) for the Marlin / Triton MoE kernels: vLLM printed
# "Model loading took 65.9651 GiB" for openai/gpt-oss-120b through Marlin (vllm-project/vllm#23278)
# for a 60.77 GiB checkpoint; 64.38 GiB through the Hopper Triton path (shared/data/memory/102).
GPT_OSS_LOADED_FACTOR = 1.085


@dataclass
class WeightSplit:
    checkpoint_bytes: int
    per_gpu_bytes: int
    source: str   # "checkpoint" (published bytes) or "shapes"


def weights_per_gpu(info: ModelInfo, tp: int, pp: int, quantization: str | None = None,
                    speculative_tokens: int = 0) -> WeightSplit | None:
    """Bytes of weights one GPU holds after the TP/PP split.

    The decoder layers split over TP x PP. The embedding and the lm_head split by vocabulary under
    TP (vLLM's VocabParallelEmbedding) and sit on the first / last PP stage (both on every stage
    that needs them when tied). K/V projections are replicated when there are fewer KV heads than
    TP ranks. Norms and routers are tiny and replicated.
    """
    total = info.weight_bytes
    source = "checkpoint"
    if quantization and quant_kind(info, quantization) != quant_kind(info, None):
        total = None  # quantised at load time (e.g. --quantization fp8 on a bf16 checkpoint)
    if not total:
        total = shape_weight_bytes(info, quantization)
        source = "shapes"
    if not total:
        return None
    # MTP layers: the target model skips the checkpoint's mtp.* tensors and the drafter loads them
    # only with speculative decoding ("Loading drafter model..." then "Model loading took" counts
    # both, vLLM 0.20 logs of cases 130/134). Published checkpoint bytes include them; shapes do not.
    mtp = mtp_bytes(info, quantization)
    if source == "checkpoint" and not speculative_tokens:
        total -= mtp
    elif source == "shapes" and speculative_tokens:
        total += mtp
    base = dtype_bytes(info.dtype)
    h, vocab = info.hidden_size or 0, info.vocab_size or 0
    embed = vocab * h * base
    lm = embed if (not info.tie_word_embeddings or pp > 1) else 0.0
    lm_in_ckpt = 0.0 if info.tie_word_embeddings else embed
    body = total - embed - lm_in_ckpt
    if body <= 0:  # shapes disagree with the bytes: split everything evenly
        body, embed, lm = float(total), 0.0, 0.0
    if info.is_gpt_oss and quant_kind(info, quantization) == "mxfp4":
        body *= GPT_OSS_LOADED_FACTOR
    if pp == 1:
        per_gpu = body / tp + (embed + lm) / tp
    else:
        per_gpu = body / (tp * pp) + max(embed, lm) / tp
    # replicated K/V heads when num_key_value_heads < tp
    kvh, heads = info.num_key_value_heads, info.num_attention_heads
    if kvh and heads and h and kvh < tp and not info.kv_lora_rank:
        hd = info.head_dim or h // heads
        layers = math.ceil((info.num_attention_layers or info.num_hidden_layers or 0) / pp)
        kind = quant_kind(info, quantization)
        lin = dtype_bytes(info.dtype) if kind == "mxfp4" else linear_bytes_per_param(kind, info)
        per_gpu += layers * 2 * h * hd * (1 - kvh / tp) * lin
    if info.full_k_eq_v and info.full_kv_heads and info.full_head_dim and h:
        # Gemma 4's K=V global layers have no v_proj in the checkpoint, but vLLM's QKVParallelLinear
        # keeps a V slot and loads K into it too (models/gemma4.py Gemma4Attention): one more
        # K-sized projection per global layer in memory
        fkv = info.full_kv_heads
        per_rank = max(1, fkv // tp) if fkv >= tp else 1
        layers = math.ceil((info.num_full_layers or 0) / pp)
        kind = quant_kind(info, quantization)
        lin = dtype_bytes(info.dtype) if kind == "mxfp4" else linear_bytes_per_param(kind, info)
        per_gpu += layers * h * per_rank * info.full_head_dim * lin
    return WeightSplit(int(total), int(per_gpu), source)


# The profiling run's torch peak: the forward pass over max_num_batched_tokens (hidden states and the
# MLP's gate/up/act buffers, of which ~60% are live at the peak) plus the dummy sampler run over
# max_num_seqs rows of logits. Fitted on vLLM's own figures (bench/plan_accuracy.py): ~8 bytes per
# logit on recent vLLM (cases 108, 115, 120, 131); older V1 builds showed up to ~38 (case 102-106).
SAMPLER_BYTES_PER_LOGIT = 8.0
SAMPLER_BYTES_PER_LOGIT_OLD = 38.0   # vLLM < 0.12 (cases 102, 104, 106, 119)
FORWARD_FACTOR = 0.6


def version_tuple(version: str | None) -> tuple[int, ...] | None:
    """(major, minor) of a vLLM version (sparkpilot.versions)."""
    return versions.key(version, 2)


def sampler_bytes_per_logit(vllm_version: str | None) -> float:
    v = version_tuple(vllm_version)
    return SAMPLER_BYTES_PER_LOGIT_OLD if v is not None and v < (0, 12) else SAMPLER_BYTES_PER_LOGIT


def activation_bytes(info: ModelInfo, max_num_batched_tokens: int, max_num_seqs: int, tp: int,
                     vllm_version: str | None = None) -> int:
    h = info.hidden_size or 4096
    vocab = info.vocab_size or 32000
    t = max_num_batched_tokens
    if info.is_moe and info.moe_intermediate_size:
        # fused-MoE workspaces: per token and routed expert, gate/up (2N), activation (N) and output (H)
        topk = info.num_experts_per_tok or 8
        mi = info.moe_intermediate_size
        forward = t * 2 * 4 * h * FORWARD_FACTOR + t * topk * (3 * mi / tp + h) * 2
    else:
        inter = info.intermediate_size or 4 * h
        forward = t * 2 * (4 * h + 3 * inter / tp) * FORWARD_FACTOR
    if info.num_linear_layers and info.linear_state_bytes_per_seq and _gated_delta_net(info):
        # chunked Gated DeltaNet prefill keeps one fp32 recurrent state per 64-token chunk
        forward += t / 64 * info.linear_state_bytes_per_seq / tp
    sampler = min(max_num_seqs, max_num_batched_tokens) * vocab * sampler_bytes_per_logit(vllm_version)
    return int(forward + sampler)


def _gated_delta_net(info: ModelInfo) -> bool:
    mt = (info.model_type or "").lower()
    return mt.startswith(("qwen3_next", "qwen3_5", "qwen3_6"))


def non_torch_bytes(tp: int, pp: int) -> int:
    """CUDA context and allocator slack; NCCL buffers when there is more than one rank.
    vLLM printed 0.13-0.16 GiB for one GPU and 0.54 GiB at TP=2 (shared/data/memory/102-106)."""
    gib = 0.15 + (0.4 if tp * pp > 1 else 0.0)
    return int(gib * GIB)


def cudagraph_bytes(info: ModelInfo, capture_size: int, pp: int) -> int:
    """The CUDA graph pool: a fixed part plus a share per layer, larger with more capture sizes.
    Observed pools: 0.5 GiB (28 layers), 0.85 (48), 1.03 (gpt-oss-120b), 1.0 (hybrid 4B), 1.92
    (48-layer MoE at TP=4)."""
    layers = math.ceil((info.num_hidden_layers or 32) / pp)
    gib = 0.3 + 0.012 * layers
    if capture_size > 512:
        gib *= 1.25
    return int(min(gib, 2.5) * GIB)
