"""Quantisation from a config.json `quantization_config`, and what it does to the weight bytes.

`detect(config)` returns a Quant: the normalised scheme lint and the planner use
(`quantization`: fp8, gptq, awq, autoround, mxfp4, nvfp4, w4a16, w8a8, int8, bitsandbytes...),
bits, group size, the raw quant_method, and the modules the checkpoint leaves unquantised.
`bytes_per_param(quant, component)` gives the storage cost of one parameter of a component,
scales and zero points included, so `expected_bytes` can check a catalog entry against its files.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "half": 2, "float32": 4, "float": 4, "float8_e4m3fn": 1,
               "bf16": 2, "fp16": 2, "fp32": 4}

# Representative module names per component, to test a checkpoint's ignore list against.
COMPONENT_MODULES = {
    "attn": ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.o_proj", "model.layers.0.mixer.q_proj"],
    "linear_attn": ["model.layers.0.linear_attn.in_proj_qkvz", "model.layers.0.linear_attn.out_proj"],
    "mamba": ["model.layers.0.mixer.in_proj", "model.layers.0.mixer.out_proj"],
    "mlp": ["model.layers.0.mlp.down_proj", "model.layers.0.mlp.up_proj", "model.layers.0.mixer.up_proj"],
    "experts": ["model.layers.1.mlp.experts.0.down_proj", "model.layers.1.mlp.experts",
                "model.layers.1.mixer.experts.0.down_proj"],
    "shared_experts": ["model.layers.1.mlp.shared_expert.down_proj", "model.layers.1.mlp.shared_experts.down_proj",
                       "model.layers.1.mixer.shared_experts.down_proj"],
    "router": ["model.layers.1.mlp.gate", "model.layers.1.mlp.router"],
    "lm_head": ["lm_head"],
    "embed": ["model.embed_tokens"],
    "mtp": ["mtp.layers.0.mlp.experts.0.down_proj", "model.layers.46.mlp.experts.0.down_proj"],
    "vision": ["visual.blocks.0.attn.qkv", "vision_tower.vision_model.encoder.layers.0.mlp.fc1",
               "model.visual.blocks.0.mlp.linear_fc1"],
}
LINEAR_COMPONENTS = ("attn", "linear_attn", "mamba", "mlp", "experts", "shared_experts", "mtp")


@dataclass
class Quant:
    quantization: str | None = None
    method: str | None = None
    bits: int | None = None
    group_size: int | None = None
    scheme: str | None = None
    ignored: list[str] = field(default_factory=list)
    kv_cache: str | None = None
    experts_only: bool = False        # mxfp4 (gpt-oss): only the MoE experts are quantised
    block_scales: bool = False        # fp8 with 128x128 block scales
    layers: dict[str, str] = field(default_factory=dict)   # modelopt MIXED_PRECISION: module -> its algo


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _ct_group(weights: dict[str, Any], fmt: str) -> tuple[int, str, str, int | None]:
    """(priority, quantization, scheme, bits) of one compressed-tensors config group."""
    bits = _int(weights.get("num_bits"))
    group = _int(weights.get("group_size"))
    strategy = str(weights.get("strategy") or "")
    wtype = str(weights.get("type") or ("float" if strategy == "tensor_group" else "int"))
    if "nvfp4" in fmt or (wtype == "float" and bits == 4 and group == 16):
        return 4, "nvfp4", "nvfp4-g16", 4
    if "mxfp4" in fmt or (wtype == "float" and bits == 4 and group == 32):
        return 4, "mxfp4", "mxfp4-g32", 4
    if wtype == "float" and bits == 8:
        return 1, "fp8", "fp8-block128" if strategy == "block" else f"fp8-{strategy or 'tensor'}", 8
    if bits is not None:
        return 3, f"w{bits}a16", f"int{bits}-g{group}" if group else f"int{bits}-{strategy or 'channel'}", bits
    return 0, "compressed-tensors", "", None


def _compressed_tensors(q: dict[str, Any], out: Quant) -> None:
    """All config groups are read; a checkpoint that mixes schemes (int4 dense + NVFP4 experts,
    FP8 attention + NVFP4 experts) is reported by its most demanding one (nvfp4 > int4 > fp8)."""
    top_fmt = str(q.get("format") or "")
    groups = q.get("config_groups") or {}
    best: tuple[int, str, str, int | None, dict[str, Any]] | None = None
    for g in groups.values() if isinstance(groups, dict) else []:
        if not isinstance(g, dict) or not isinstance(g.get("weights"), dict):
            continue
        fmt = str(g.get("format") or top_fmt)
        prio, name, scheme, bits = _ct_group(g["weights"], fmt)
        if best is None or prio > best[0]:
            best = (prio, name, scheme, bits, g)
    out.ignored = [str(x) for x in (q.get("ignore") or [])]
    if best is None:
        out.quantization = "compressed-tensors"
        return
    _, out.quantization, out.scheme, out.bits, g = best
    w = g["weights"]
    out.group_size = _int(w.get("group_size"))
    out.block_scales = out.quantization == "fp8" and w.get("strategy") == "block"
    acts = g.get("input_activations")
    if out.quantization.startswith("w") and isinstance(acts, dict) and _int(acts.get("num_bits")):
        out.quantization = f"w{out.bits}a{_int(acts.get('num_bits'))}"
    kv = q.get("kv_cache_scheme")
    if isinstance(kv, dict) and kv.get("type") == "float" and _int(kv.get("num_bits")) == 8:
        out.kv_cache = "fp8"


def detect(config: dict[str, Any]) -> Quant:
    """Quantisation of a checkpoint from its config.json (top level or text_config)."""
    q = config.get("quantization_config") or config.get("compression_config")
    if not isinstance(q, dict):
        tc = config.get("text_config")
        q = tc.get("quantization_config") if isinstance(tc, dict) else None
    out = Quant()
    if not isinstance(q, dict):
        return out
    method = str(q.get("quant_method") or q.get("quant_algo") or "").lower()
    out.method = method or None
    if method == "mxfp4":
        out.quantization, out.bits, out.group_size, out.scheme = "mxfp4", 4, 32, "mxfp4-g32"
        out.experts_only = True
        out.ignored = [str(x) for x in (q.get("modules_to_not_convert") or [])]
    elif method == "fp8":
        out.quantization, out.bits = "fp8", 8
        block = q.get("weight_block_size")
        out.block_scales = bool(block)
        out.scheme = f"fp8-block{block[0]}" if block else "fp8-tensor"
        out.ignored = [str(x) for x in (q.get("modules_to_not_convert") or q.get("ignored_layers") or [])]
    elif method in ("gptq", "awq", "auto-round", "autoround", "gptqmodel"):
        out.quantization = {"auto-round": "autoround", "gptqmodel": "gptq"}.get(method, method)
        out.bits = _int(q.get("bits") or q.get("w_bit"))
        out.group_size = _int(q.get("group_size") or q.get("q_group_size"))
        out.scheme = f"int{out.bits}-g{out.group_size}"
        out.ignored = [str(x) for x in (q.get("modules_to_not_convert") or [])]
        extra = q.get("extra_config") or {}
        if isinstance(extra, dict):        # auto-round: per-module overrides (bits 16 = left alone)
            out.ignored += [k for k, v in extra.items() if isinstance(v, dict) and _int(v.get("bits")) == 16]
    elif method == "compressed-tensors":
        _compressed_tensors(q, out)
    elif method == "modelopt" or (not q.get("quant_method") and q.get("quant_algo")):
        algo = str(q.get("quant_algo") or "").upper()
        if algo == "MIXED_PRECISION":                # per-layer algorithms: report the most demanding
            out.layers = {str(k): str(v.get("quant_algo", "")).upper()
                          for k, v in (q.get("quantized_layers") or {}).items() if isinstance(v, dict)}
            algos = set(out.layers.values())
            algo = "NVFP4" if any("FP4" in a for a in algos) else "FP8" if any("FP8" in a for a in algos) else algo
            pass
        out.group_size = _int(q.get("group_size"))
        out.ignored = [str(x) for x in (q.get("exclude_modules") or q.get("ignore") or [])]
        if out.layers:   # what quantized_layers does not list stays unquantised: say so as an ignore list
            out.ignored += [m for m, listed in (("lm_head", "lm_head" in out.layers),
                                                ("mtp.*", any(k.startswith("mtp.") for k in out.layers)))
                            if not listed]
        if algo == "NVFP4" or "FP4" in algo:
            out.quantization, out.bits, out.scheme = "nvfp4", 4, f"nvfp4-g{out.group_size or 16}"
        elif "FP8" in algo:
            out.quantization, out.bits, out.scheme = "fp8", 8, "fp8-tensor"
        else:
            out.quantization = "modelopt"
        kv = q.get("kv_cache_quant_algo")
        out.kv_cache = str(kv).lower() if kv else None
        out.method = "modelopt"
    elif method == "bitsandbytes":
        out.quantization = "bitsandbytes"
        out.bits = 4 if q.get("load_in_4bit") else 8 if q.get("load_in_8bit") else None
    else:
        out.quantization = method or None
        out.bits = _int(q.get("bits"))
    return out


def _pattern_match(pattern: str, name: str) -> bool:
    if pattern.startswith("re:"):
        return re.search(pattern[3:], name) is not None
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(name, pattern.rstrip("*") + "*")
    # plain names: a suffix match on module path segments ("lm_head", "mlp.gate", "model.layers.0.self_attn")
    return name == pattern or name.endswith("." + pattern) or name.startswith(pattern + ".") \
        or ("." + pattern + ".") in ("." + name + ".")


def _generic(name: str) -> list[str]:
    """A module name with its layer index replaced by several indices (ignore lists name layer 0.. N)."""
    # decoder layers only: an MTP block is `mtp.layers.0` (there is one), which ignore lists name as
    # such ("mtp.layers.0*" in nvidia/Qwen3-Next-80B-A3B-Instruct-NVFP4's hf_quant_config.json)
    return [re.sub(r"(?<!mtp\.)layers\.\d+", f"layers.{i}", name) for i in (0, 1, 3, 5, 10, 40)]


def component_quantized(quant: Quant, component: str) -> bool:
    """Does the checkpoint store this component quantised? (ignored when most layers' modules match)"""
    if quant.quantization is None or quant.quantization == "bitsandbytes":
        return False
    if quant.experts_only:
        return component in ("experts", "mtp")
    if component not in LINEAR_COMPONENTS:
        return False
    if quant.layers:
        return _mixed_algo(quant, component) is not None
    for name in COMPONENT_MODULES.get(component, []):
        variants = _generic(name)
        hit = sum(any(_pattern_match(p, v) for p in quant.ignored) for v in variants)
        if hit * 2 > len(variants):
            return False
    return True


def _mixed_algo(quant: Quant, component: str) -> str | None:
    """modelopt MIXED_PRECISION: the algo most of a component's listed modules use, None when the
    checkpoint lists none of them (a module missing from quantized_layers stays in the model dtype).
    Matched on the part after `layers.N.`, so `backbone.` and `model.` prefixes both match; the MTP
    block counts only through `mtp.*` modules."""
    found: list[str] = []
    for name in COMPONENT_MODULES.get(component, []):
        if component == "mtp" and not name.startswith("mtp."):
            continue
        m = re.search(r"layers\.\d+\.(.+)$", name)
        tail = m.group(1) if m else name
        for key, algo in quant.layers.items():
            if (component == "mtp") != key.startswith("mtp."):
                continue
            if key == tail or key.endswith("." + tail):
                found.append(algo)
    return max(set(found), key=found.count) if found else None


def bytes_per_param(quant: Quant, component: str, dtype_bytes: float = 2.0) -> float:
    """Storage bytes of one parameter of `component`, quantisation scales and zero points included."""
    if not component_quantized(quant, component):
        return dtype_bytes
    if quant.layers:
        algo = _mixed_algo(quant, component) or ""
        return 0.5 + 1 / 16 if "FP4" in algo else 1.0 if "FP8" in algo else dtype_bytes
    q = quant.quantization
    if q == "mxfp4":
        return 0.5 + 1 / 32                   # e2m1 nibbles + one e8m0 scale per 32
    if q == "nvfp4":
        return 0.5 + 1 / 16                   # e2m1 nibbles + one fp8 scale per 16
    if q == "fp8":
        return 1.0 + (4 / (128 * 128) if quant.block_scales else 0.0)
    bits = quant.bits or 4
    group = quant.group_size if quant.group_size and quant.group_size > 0 else None
    if q in ("gptq", "awq", "autoround", "w4a16", "w8a16") or (q or "").startswith("w"):
        per = bits / 8
        if group:
            per += dtype_bytes / group        # one fp16/bf16 scale per group and output
            if q in ("gptq", "awq", "autoround"):
                per += bits / 8 / group       # packed zero points per group and output
        return per
    return bits / 8 if bits else dtype_bytes


def expected_bytes(parts: dict[str, int], quant: Quant, dtype_bytes: float = 2.0) -> float:
    """Checkpoint bytes the shapes predict (small per-matrix extras such as g_idx are left out)."""
    return sum(n * bytes_per_param(quant, comp, dtype_bytes) for comp, n in parts.items())
