"""Kernel rules: flashinfer-attention, cutlass-fp4, mxfp4-non-gpt-oss, moe-backend, gptq-marlin, fastsafetensors."""

from __future__ import annotations

import json

from sparkpilot.rules.context import LintContext
from sparkpilot.rules.finding import Edit, Finding

FP4 = ("nvfp4", "mxfp4")
CUTLASS_MOE = ("cutlass", "flashinfer_cutlass", "flashinfer-cutlass")
CUTLASS_GEMM_ENV = ("cutlass", "flashinfer-cutlass")
# FlashInfer FP4 MoE switches (their kernels are CUTLASS-based); vllm/envs.py
FLASHINFER_FP4_ENV = ("VLLM_USE_FLASHINFER_MOE_FP4", "VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8",
                      "VLLM_USE_FLASHINFER_MOE_MXFP4_BF16")


def _truthy(v: str | None) -> bool:
    return str(v or "").strip().lower() in ("1", "true", "yes", "on")


def _attention_backend(ctx: LintContext) -> tuple[str | None, str | None]:
    for key in ("attention_backend", "attention_config.backend"):
        if ctx.has_opt(key):
            return str(ctx.opt(key)), key
    ac = ctx.opt("attention_config")
    if isinstance(ac, str) and ac.strip().startswith("{"):
        try:
            data = json.loads(ac)
            if isinstance(data, dict) and data.get("backend"):
                return str(data["backend"]), "attention_config"
        except ValueError:
            pass
    return None, None


def flashinfer_attention(ctx: LintContext) -> list[Finding]:
    out = []
    value, key = _attention_backend(ctx)
    if value and value.upper() == "FLASHINFER":
        edits = [Edit("set_flag", "--attention-backend", "TRITON_ATTN")] if key == "attention_backend" else []
        out.append(ctx.finding("flashinfer-attention", f"attention backend {value}: accuracy bugs on SM121 (FP8); "
                               "use TRITON_ATTN", location=ctx.where(key or ""), edits=edits))
    env = ctx.env("VLLM_ATTENTION_BACKEND")
    if env and env.strip().upper() == "FLASHINFER":
        out.append(ctx.finding("flashinfer-attention", "VLLM_ATTENTION_BACKEND=FLASHINFER: accuracy bugs on SM121 "
                               "(FP8); use TRITON_ATTN", location=ctx.where("VLLM_ATTENTION_BACKEND"),
                               edits=[Edit("set_env", "VLLM_ATTENTION_BACKEND", "TRITON_ATTN")]))
    return out


def cutlass_fp4(ctx: LintContext) -> list[Finding]:
    name = "cutlass-fp4"
    quant = ctx.model.quant
    fp4 = quant in FP4
    moe = ctx.model.is_moe
    out: list[Finding] = []
    moe_backend = str(ctx.opt("moe_backend") or "").lower()
    if fp4 and moe_backend in CUTLASS_MOE:
        out.append(ctx.finding(name, f"--moe-backend {moe_backend} on an {quant} checkpoint runs the CUTLASS FP4 "
                               "MoE kernel: silent garbage on SM121; use marlin", location=ctx.where("moe_backend"),
                               edits=[Edit("set_flag", "--moe-backend", "marlin")]))
    mx = str(ctx.opt("mxfp4_backend") or "")
    if "cutlass" in mx.lower():
        out.append(ctx.finding(name, f"--mxfp4-backend {mx} chooses the CUTLASS FP4 kernels: silent garbage on SM121",
                               location=ctx.where("mxfp4_backend"), edits=[Edit("remove_flag", "--mxfp4-backend")]))
    linear = str(ctx.opt("linear_backend") or "").lower()
    if fp4 and linear in CUTLASS_MOE:
        out.append(ctx.finding(name, f"--linear-backend {linear} on an {quant} checkpoint runs CUTLASS FP4 GEMMs: "
                               "silent garbage on SM121; use marlin", location=ctx.where("linear_backend"),
                               edits=[Edit("set_flag", "--linear-backend", "marlin")]))
    gemm = str(ctx.env("VLLM_NVFP4_GEMM_BACKEND") or "").strip().lower()
    if gemm in CUTLASS_GEMM_ENV:
        out.append(ctx.finding(name, f"VLLM_NVFP4_GEMM_BACKEND={gemm} chooses CUTLASS FP4 GEMMs: silent garbage on "
                               "SM121; use marlin", location=ctx.where("VLLM_NVFP4_GEMM_BACKEND"),
                               edits=[Edit("set_env", "VLLM_NVFP4_GEMM_BACKEND", "marlin")]))
    for var in FLASHINFER_FP4_ENV:
        if _truthy(ctx.env(var)):
            out.append(ctx.finding(name, f"{var}={ctx.env(var)} routes FP4 MoE through FlashInfer's CUTLASS kernels: "
                                   "silent garbage on SM121", location=ctx.where(var), edits=[Edit("set_env", var, "0")]))
    if quant == "nvfp4":
        missing: list[str] = []
        edits: list[Edit] = []
        no_moe_flag = ""
        if moe and moe_backend != "marlin" and moe_backend not in CUTLASS_MOE:
            missing.append("--moe-backend marlin")
            if ctx.flag_exists("--moe-backend") is False:   # --fix must not write a flag vLLM refuses
                no_moe_flag = (f"; vLLM {ctx.flags_version} has no --moe-backend, use a newer image "
                               "(the flag is in 0.17.1 and later)")
            else:
                edits.append(Edit("set_flag", "--moe-backend", "marlin"))
        dense_forced = gemm == "marlin" or linear == "marlin"
        if not dense_forced and gemm not in CUTLASS_GEMM_ENV and linear not in CUTLASS_MOE:
            if ctx.flag_exists("--linear-backend"):
                missing.append("--linear-backend marlin")
                edits.append(Edit("set_flag", "--linear-backend", "marlin"))
            else:
                missing.append("VLLM_NVFP4_GEMM_BACKEND=marlin")
                edits.append(Edit("set_env", "VLLM_NVFP4_GEMM_BACKEND", "marlin"))
        if missing:
            out.append(ctx.finding(name, f"NVFP4 checkpoint ({ctx.model.source_of('quant')}) without "
                                   f"{' and '.join(missing)}: vLLM picks CUTLASS FP4 kernels on SM121 and they return "
                                   f"garbage silently{no_moe_flag}", location=ctx.where("moe_backend", "model", "quantization"),
                                   edits=edits))
    return out


def mxfp4_non_gpt_oss(ctx: LintContext) -> list[Finding]:
    q = str(ctx.opt("quantization") or "").lower()
    if q != "mxfp4":
        return []
    if ctx.model.is_gpt_oss:
        return []
    edits = [Edit("remove_flag", "--quantization")]
    if ctx.model.is_gpt_oss is None:
        return [ctx.finding("mxfp4-non-gpt-oss", f"--quantization mxfp4 on {ctx.spec.model}: lint cannot tell whether "
                            "it is a gpt-oss-format checkpoint (mxfp4 works only there); pass --model-info gpt_oss=true "
                            "if it is", severity="warning", location=ctx.where("quantization"), edits=edits)]
    return [ctx.finding("mxfp4-non-gpt-oss", f"--quantization mxfp4 on {ctx.spec.model}, which is not in gpt-oss format "
                        f"({ctx.model.source_of('gpt_oss')}): IndexError and shape mismatch at load",
                        location=ctx.where("quantization"), edits=edits)]


def moe_backend(ctx: LintContext) -> list[Finding]:
    """CONTRACTS.md "MoE backend": Marlin for quantised experts, never for unquantised ones (vLLM's
    map_unquantized_backend raises), and an unquantised MTP drafter under Marlin needs its own backend."""
    if not ctx.model.is_moe:
        return []
    current = str(ctx.opt("moe_backend") or "")
    if "{" in current or "$" in current:
        return []
    cur = current.lower()
    quantized = ctx.model.experts_quantized
    exists = ctx.flag_exists("--moe-backend")
    src = ctx.model.source_of("quant")
    where = ctx.where("moe_backend", "model")
    out: list[Finding] = []
    if quantized is False and cur == "marlin":
        out.append(ctx.finding(
            "moe-backend", f"--moe-backend marlin on an unquantised MoE ({src}): vLLM refuses it at start "
            "(\"moe_backend='marlin' is not supported for unquantized MoE\"); use triton",
            severity="error" if ctx.model.quant_known else "warning", location=where,
            edits=[Edit("set_flag", "--moe-backend", "triton")]))
    elif quantized and cur != "marlin" and (ctx.model.quant not in FP4 or (ctx.model.quant == "mxfp4" and not cur)):
        # FP8, AWQ, GPTQ experts run without it (vLLM picks a kernel), Marlin is the one that works best
        state = f"--moe-backend {current}" if current else "no --moe-backend"
        msg = f"quantised MoE ({ctx.model.quant}, {src}) with {state}: Marlin is the MoE backend that works on SM121"
        edits = [Edit("set_flag", "--moe-backend", "marlin")]
        if exists is False:
            msg += f"; vLLM {ctx.flags_version} has no --moe-backend and picks the kernel itself"
            edits = []
        out.append(ctx.finding("moe-backend", msg, severity="warning" if exists is not False else "info",
                               location=where, edits=edits))
    elif quantized and ctx.model.quant == "mxfp4" and cur not in ("marlin", "triton", ""):
        out.append(ctx.finding("moe-backend", f"--moe-backend {current} on gpt-oss mxfp4: its supported paths on "
                               "SM121 are Marlin and Triton", severity="warning", location=where,
                               edits=[Edit("set_flag", "--moe-backend", "marlin")]))
    elif quantized is None and not cur and exists is not False:
        out.append(ctx.finding("moe-backend", f"MoE model ({ctx.model.source_of('moe')}) with no --moe-backend and "
                               "its quantisation unknown: marlin for quantised experts, triton for unquantised ones "
                               "(pass --model-info quant=...)", severity="info", location=where))
    out += _drafter_backend(ctx, cur)
    return out


def _speculative(ctx: LintContext) -> dict | None:
    raw = ctx.opt("speculative_config")
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
    return None


def _drafter_backend(ctx: LintContext, body: str) -> list[Finding]:
    spec = _speculative(ctx)
    if body != "marlin" or not spec or ctx.model.drafter_quantized is not False:
        return []
    if str(spec.get("method", "")).lower() not in ("mtp", "") and "mtp" not in str(spec.get("method", "")).lower():
        return []
    if spec.get("moe_backend") and str(spec["moe_backend"]).lower() != "marlin":
        return []
    fixed = {**spec, "moe_backend": "triton"}
    return [ctx.finding("moe-backend", "--moe-backend marlin is global and this checkpoint's MTP drafter is unquantised "
                        f"({ctx.model.source_of('quant')}: its quantization ignore list keeps mtp.* in BF16): the drafter "
                        "aborts at construction (vllm-project/vllm#56832); add \"moe_backend\": \"triton\" to "
                        "--speculative-config", severity="error", location=ctx.where("speculative_config", "moe_backend"),
                        edits=[Edit("set_flag", "--speculative-config", json.dumps(fixed, separators=(",", ":")))])]


def gptq_marlin(ctx: LintContext) -> list[Finding]:
    q = str(ctx.opt("quantization") or "").lower()
    if q not in ("gptq", "awq"):
        return []
    return [ctx.finding("gptq-marlin", f"--quantization {q} forces the non-Marlin {q.upper()} kernel; use "
                        f"{q}_marlin or leave --quantization out", location=ctx.where("quantization"),
                        edits=[Edit("set_flag", "--quantization", f"{q}_marlin")])]


def fastsafetensors(ctx: LintContext) -> list[Finding]:
    if str(ctx.opt("load_format") or "").lower() != "fastsafetensors":
        return []
    f = ctx.finding("fastsafetensors", "", location=ctx.where("load_format"),
                    edits=[Edit("remove_flag", "--load-format")])
    stack = ctx.stack["name"]
    if f.severity == "error":
        f.message = (f"--load-format fastsafetensors: ImportError at start on {stack} (NGC 26.03/26.04 lack the "
                     "package); it is known to work in eugr/spark-vllm-docker builds")
    elif ctx.stack.get("family") == "eugr":
        f.message = f"--load-format fastsafetensors: works on {stack} (eugr builds ship it), but fails on NGC 26.03/26.04"
    else:
        f.message = (f"--load-format fastsafetensors on {stack}: needs the fastsafetensors package in the image "
                     "(ImportError in NGC 26.03/26.04; known to work in eugr/spark-vllm-docker builds)")
    return [f]
