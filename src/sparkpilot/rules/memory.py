"""Memory and CUDA graph rules: gpu-memory-utilization, enforce-eager, kv-cache-fp8, cudagraph-capture-size."""

from __future__ import annotations

import json
from typing import Any

from sparkpilot.rules.context import LintContext
from sparkpilot.rules.finding import Edit, Finding

SIXTEEN_BIT = ("auto", "bfloat16", "float16", "bf16", "fp16", "half")
LONG_CONTEXT = 65536   # our threshold for the reference's "at long context lengths" (see rules.yaml)
NGC_NOTE = ("https://docs.nvidia.com/deeplearning/frameworks/vllm-release-notes/rel-26-03.html (Known Issues: "
            "vllm serve uses aggressive GPU memory allocation by default, effectively ~1.0, on unified-memory systems)")


def _float(v: Any) -> float | None:
    try:
        return float(str(v))
    except (TypeError, ValueError):
        return None


def gpu_memory_utilization(ctx: LintContext) -> list[Finding]:
    name = "gpu-memory-utilization"
    raw = ctx.opt("gpu_memory_utilization")
    where = ctx.where("gpu_memory_utilization")
    if raw is None:
        image = ctx.spec.image or ""
        if ctx.stack.get("family") == "ngc" and (not image or image.startswith("nvcr.io/nvidia/vllm")):
            return [ctx.finding(name, "no --gpu-memory-utilization: NGC's vLLM container allocates aggressively "
                                "by default on unified memory (effectively ~1.0); set 0.85 explicitly",
                                severity="warning", location=where,
                                edits=[Edit("set_flag", "--gpu-memory-utilization", "0.85")],
                                evidence=ctx.finding(name, "").evidence + "; " + NGC_NOTE)]
        return []
    value = _float(raw)
    if value is None:
        return []
    max_len = _int(ctx.opt("max_model_len"))
    fix = [Edit("set_flag", "--gpu-memory-utilization", "0.85")]
    if value > 0.90:
        return [ctx.finding(name, f"--gpu-memory-utilization {raw} is above 0.90: CUDA and the page cache share "
                            "the 128 GB pool, so this OOMs; use 0.85-0.87", severity="error", location=where, edits=fix)]
    if value > 0.87:
        return [ctx.finding(name, f"--gpu-memory-utilization {raw} is above the 0.85-0.87 safe range",
                            severity="warning", location=where, edits=fix)]
    if value > 0.85 and max_len and max_len >= LONG_CONTEXT:
        return [ctx.finding(name, f"--gpu-memory-utilization {raw} with --max-model-len {max_len} (long context, "
                            f">= {LONG_CONTEXT}): leave more room, 0.85 or lower", severity="warning",
                            location=where, edits=fix)]
    return []


def enforce_eager(ctx: LintContext) -> list[Finding]:
    if ctx.opt("enforce_eager") is not True:
        return []
    return [ctx.finding("enforce-eager", "--enforce-eager turns CUDA graphs off: about 55% of throughput lost",
                        location=ctx.where("enforce_eager"), edits=[Edit("remove_flag", "--enforce-eager")])]


def kv_cache_fp8(ctx: LintContext) -> list[Finding]:
    dtype = str(ctx.opt("kv_cache_dtype") or "auto")
    if dtype.lower() not in SIXTEEN_BIT:   # fp8 already, or another compressed cache the user chose
        return []
    what = "not set (auto: the model's dtype)" if dtype == "auto" else f"`{dtype}`"
    return [ctx.finding("kv-cache-fp8", f"KV cache dtype is {what}: fp8 halves KV memory and is safe on SM121",
                        location=ctx.where("kv_cache_dtype"), edits=[Edit("set_flag", "--kv-cache-dtype", "fp8")])]


def capture_size(ctx: LintContext) -> tuple[int | None, str | None]:
    """The max CUDA graph capture size the launch sets, and the option that set it."""
    for key in ("max_cudagraph_capture_size", "compilation_config.max_cudagraph_capture_size"):
        if ctx.has_opt(key):
            return _int(ctx.opt(key)), key
    cc = ctx.opt("compilation_config")
    if isinstance(cc, str) and cc.strip().startswith("{"):
        try:
            data = json.loads(cc)
        except ValueError:
            data = {}
        if isinstance(data, dict) and "max_cudagraph_capture_size" in data:
            return _int(data["max_cudagraph_capture_size"]), "compilation_config"
        sizes = data.get("cudagraph_capture_sizes") if isinstance(data, dict) else None
        if isinstance(sizes, list) and sizes:
            return max(_int(s) or 0 for s in sizes), "compilation_config"
    return None, None


def cudagraph_capture_size(ctx: LintContext) -> list[Finding]:
    size, key = capture_size(ctx)
    if size is not None and size >= 2048:
        return []
    if key and size is None:
        return []   # a placeholder or variable we cannot read
    has_flag = ctx.flag_exists("--max-cudagraph-capture-size") is not False
    wanted = has_flag and key in (None, "max_cudagraph_capture_size")
    edits = [Edit("set_flag", "--max-cudagraph-capture-size", "2048")] if wanted else []
    msg = ("--max-cudagraph-capture-size not set: larger batches run without CUDA graphs; 2048 is the "
           "full-throughput setting" if size is None else
           f"CUDA graph capture size {size} is below 2048: larger batches run without CUDA graphs")
    return [ctx.finding("cudagraph-capture-size", msg, location=ctx.where(key or "max_cudagraph_capture_size"),
                        edits=edits)]


def _int(v: Any) -> int | None:
    try:
        return int(float(str(v)))
    except (TypeError, ValueError):
        return None


def max_model_len(ctx: LintContext) -> list[Finding]:
    """--max-model-len beyond the model's positions: vLLM stops at start ("User-specified max_model_len
    (X) is greater than the derived max_model_len ..."), unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1."""
    try:
        mml = int(str(ctx.opt("max_model_len")))
    except (TypeError, ValueError):
        return []
    limit = ctx.model.max_positions
    if not limit or mml <= limit:
        return []
    if (ctx.opt("hf_overrides") and "rope" in str(ctx.opt("hf_overrides"))) or ctx.opt("rope_scaling"):
        return []     # the launch extends the positions itself
    where = ctx.where("max_model_len")
    allowed = str(ctx.env("VLLM_ALLOW_LONG_MAX_MODEL_LEN") or "").strip().lower() in ("1", "true")
    if allowed:
        return [ctx.finding("max-model-len", f"--max-model-len {mml} is above the model's {limit} positions with "
                            "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1: vLLM starts, but positions past the trained ones give "
                            "garbage or NaN", severity="warning", location=where)]
    return [ctx.finding("max-model-len", f"--max-model-len {mml} is above the model's {limit} positions "
                        f"(max_position_embeddings): vLLM refuses it at start; use {limit}",
                        location=where, edits=[Edit("set_flag", "--max-model-len", str(limit))])]
