"""Which MoE backend a plan writes (CONTRACTS.md "MoE backend").

`--moe-backend` is global and vLLM validates it per layer: Marlin serves quantised experts (GPTQ, AWQ,
FP8, NVFP4, MXFP4); an unquantised MoE layer accepts only its own backends, and `marlin` there raises
in vLLM's map_unquantized_backend ("moe_backend='marlin' is not supported for unquantized MoE";
vllm/model_executor/layers/fused_moe/oracle/unquantized.py; vllm-project/vllm#56832). So unquantised
MoE gets `triton`, and an unquantised MTP drafter under a Marlin body gets "moe_backend": "triton"
inside --speculative-config (SpeculativeConfig.moe_backend, vllm-project/vllm#37880).
"""

from __future__ import annotations

from sparkpilot.models.info import ModelInfo
from sparkpilot.models.quant import Quant, component_quantized

UNQUANTIZED_BACKEND = "triton"
QUANTIZED_BACKEND = "marlin"


UNQUANTIZED = ("", "none", "auto", "bf16", "bfloat16", "fp16", "float16", "half")


def _quant(info: ModelInfo, quantization: str | None) -> Quant:
    q = str(quantization or info.quantization or "").strip().lower()
    if q in UNQUANTIZED:
        return Quant()
    return Quant(quantization=q, ignored=list(info.quant_ignored),
                 experts_only="mxfp4" in q and info.is_gpt_oss)


def experts_quantized(info: ModelInfo, quantization: str | None = None) -> bool:
    """Are the MoE experts of the body stored quantised (so Marlin can serve them)?"""
    q = _quant(info, quantization)
    if q.quantization is None:
        return False
    if quantization:          # the user's --quantization: the checkpoint's ignore list does not apply
        return True
    return component_quantized(q, "experts")


def drafter_quantized(info: ModelInfo, quantization: str | None = None) -> bool:
    """Is the MTP drafter's MoE quantised? (its quantization `ignore` list often names `mtp.*`)"""
    q = _quant(info, quantization)
    if q.quantization is None:
        return False
    return component_quantized(q, "mtp")


def body_backend(info: ModelInfo, quantization: str | None = None) -> str | None:
    """The --moe-backend value for the body, None for a dense model."""
    if not info.is_moe:
        return None
    return QUANTIZED_BACKEND if experts_quantized(info, quantization) else UNQUANTIZED_BACKEND


def drafter_backend(info: ModelInfo, quantization: str | None, body: str | None) -> str | None:
    """The moe_backend the MTP drafter needs inside --speculative-config (None: it inherits the body's)."""
    if body == QUANTIZED_BACKEND and info.is_moe and not drafter_quantized(info, quantization):
        return UNQUANTIZED_BACKEND
    return None
