"""datacenter-blackwell: settings that assume SM100 / TMEM / WGMMA kernels or NVLink / NVSwitch.

Each check is one real flag or variable with its source (knowledge/rules.yaml SPL014); no keyword matching.
"""

from __future__ import annotations

import re

from sparkpilot.rules.context import LintContext
from sparkpilot.rules.finding import Edit, Finding

NCCL_ENV_DOC = "https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html"

# (variable, value test, severity, message, fixed value or None to leave, evidence)
ENV_CHECKS = [
    ("NCCL_NVLS_ENABLE", lambda v: v.strip() == "1", "warning",
     "NCCL_NVLS_ENABLE=1 asks for NVLink SHARP, which needs NVSwitch; Sparks have none (NCCL fails to bind NVLS memory)",
     "0", f"{NCCL_ENV_DOC}#nccl-nvls-enable; NCCL log 'Failed to bind NVLink SHARP (NVLS) Multicast memory ... "
     "Disable NVLS (NCCL_NVLS_ENABLE=0)'"),
    ("NCCL_MNNVL_ENABLE", lambda v: v.strip() == "1", "warning",
     "NCCL_MNNVL_ENABLE=1 asks for a multi-node NVLink domain (GB200 NVL72); Sparks talk over RoCE",
     "0", f"{NCCL_ENV_DOC}#nccl-mnnvl-enable"),
    ("NCCL_P2P_LEVEL", lambda v: v.strip().upper() == "NVL", "info",
     "NCCL_P2P_LEVEL=NVL allows P2P only over NVLink; a Spark has one GPU and no NVLink, so it does nothing here",
     None, f"{NCCL_ENV_DOC}#nccl-p2p-level"),
    ("VLLM_USE_TRTLLM_ATTENTION", lambda v: v.strip().lower() in ("1", "true"), "warning",
     "VLLM_USE_TRTLLM_ATTENTION=1 forces TRT-LLM attention kernels, which vLLM supports on the SM100 family",
     "0", "vllm/utils/flashinfer.py supports_trtllm_attention (is_device_capability_family(100))"),
    ("VLLM_USE_DEEP_GEMM", lambda v: v.strip().lower() in ("1", "true"), "info",
     "VLLM_USE_DEEP_GEMM=1: DeepGEMM runs on SM90 / SM100 only, so vLLM ignores it on SM121",
     None, "vllm/utils/deep_gemm.py is_deep_gemm_supported (Hopper and datacenter Blackwell only)"),
    ("VLLM_USE_FLASHINFER_MOE_FP8", lambda v: v.strip().lower() in ("1", "true"), "warning",
     "VLLM_USE_FLASHINFER_MOE_FP8=1 asks for FlashInfer's FP8 MoE kernels; FlashInfer MoE backends are absent on SM121",
     "0", "reference: What is broken or absent on SM121 (FlashInfer: MoE backends absent on SM121)"),
]

ARCH_VARS = ("TORCH_CUDA_ARCH_LIST", "FLASHINFER_CUDA_ARCH_LIST")


def _arch_list_problem(value: str) -> bool:
    archs = re.findall(r"(\d+)\.(\d+)", value)
    majors = {int(a) for a, _ in archs}
    return bool(archs) and 10 in majors and 12 not in majors


def datacenter_blackwell(ctx: LintContext) -> list[Finding]:
    out: list[Finding] = []
    for var, test, sev, msg, fixed, evidence in ENV_CHECKS:
        value = ctx.env(var)
        if value is not None and test(value):
            edits = [Edit("set_env", var, fixed)] if fixed is not None else []
            out.append(ctx.finding("datacenter-blackwell", msg, severity=sev, location=ctx.where(var), edits=edits,
                                   evidence=evidence))
    for var in ARCH_VARS:
        value = ctx.env(var)
        if value and _arch_list_problem(value):
            out.append(ctx.finding(
                "datacenter-blackwell", f"{var}={value} builds kernels for datacenter Blackwell (SM100/SM103) only; "
                "GB10 is SM121 and needs 12.1a in the list", severity="error", location=ctx.where(var),
                edits=[Edit("set_env", var, "12.1a")],
                evidence="CUDA arch-specific targets (sm_100a) run only on that architecture: "
                         "https://docs.nvidia.com/cuda/cuda-c-programming-guide/#feature-availability; Spark builds use "
                         "12.1a: https://github.com/eugr/spark-vllm-docker/blob/03860ea8524cb4f788a3f62eaf5a9423669a1a7d/Dockerfile"))
    return out
