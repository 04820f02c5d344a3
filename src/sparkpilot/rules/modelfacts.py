"""What lint needs to know about the model: MoE or not, gpt-oss format or not, its quantisation.

Sources, strongest first: `--model-info KEY=VALUE,...`, the model catalog (`sparkpilot.models.lookup`,
offline), then the model id itself (name patterns such as `-A3B`, `NVFP4`, `GPTQ`), then the launch's
own `--quantization`. A fact nobody knows stays None and the rules that need it stay quiet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sparkpilot.errors import UsageError


@dataclass
class ModelFacts:
    id: str | None = None
    is_moe: bool | None = None
    is_gpt_oss: bool | None = None
    quant: str | None = None          # nvfp4 | mxfp4 | gptq | awq | autoround | fp8 | ... | None (unquantised/unknown)
    sources: dict[str, str] = field(default_factory=dict)   # fact -> where it came from
    experts_quantized: bool | None = None   # the body's MoE experts stored quantised (None: unknown)
    drafter_quantized: bool | None = None   # the MTP drafter's MoE stored quantised (None: unknown / no MTP)
    max_positions: int | None = None        # max_position_embeddings (None: unknown)

    @property
    def quant_known(self) -> bool:
        """The quantisation (or its absence) comes from the checkpoint's facts, not a guess."""
        return self.source_of("quant") in ("model catalog", "model info", "built-in model facts", "--model-info")

    def source_of(self, fact: str) -> str:
        return self.sources.get(fact, "unknown")


# Normalised quantisation names.
_QUANT_ALIASES = {
    "nvfp4": "nvfp4", "modelopt_fp4": "nvfp4", "fp4": "nvfp4", "nvfp4_per_token": "nvfp4", "w4a4_nvfp4": "nvfp4",
    "mxfp4": "mxfp4", "gpt_oss_mxfp4": "mxfp4",
    "gptq": "gptq", "gptq_marlin": "gptq", "auto_gptq": "gptq",
    "awq": "awq", "awq_marlin": "awq", "auto_awq": "awq",
    "autoround": "autoround", "auto-round": "autoround", "inc": "autoround",
    "fp8": "fp8", "modelopt": "fp8", "fbgemm_fp8": "fp8",
}

# Model ids of the real launches in ../shared/data/commands and tests/data/lint (a fallback for when the
# catalog does not know them): id (lower case) -> facts.
KNOWN: dict[str, dict[str, Any]] = {
    "openai/gpt-oss-120b": {"moe": True, "gpt_oss": True, "quant": "mxfp4"},
    "openai/gpt-oss-20b": {"moe": True, "gpt_oss": True, "quant": "mxfp4"},
    "batsclamp/huihui-gpt-oss-120b-mxfp4-abliterated": {"moe": True, "gpt_oss": True, "quant": "mxfp4"},
    "nvidia/nvidia-nemotron-3-super-120b-a12b-nvfp4": {"moe": True, "gpt_oss": False, "quant": "nvfp4"},
    "nvidia/nvidia-nemotron-3-nano-30b-a3b-nvfp4": {"moe": True, "gpt_oss": False, "quant": "nvfp4"},
    "qwen/qwen3.5-35b-a3b-fp8": {"moe": True, "gpt_oss": False, "quant": "fp8"},
    "zai-org/glm-5.3-flash": {"moe": True, "gpt_oss": False},
    "qwen/qwen2.5-math-1.5b-instruct": {"moe": False, "gpt_oss": False, "quant": None},
    "hugging-quants/meta-llama-3.1-405b-instruct-awq-int4": {"moe": False, "gpt_oss": False, "quant": "awq"},
    "stepfun-ai/step3-vl-10b": {"moe": False, "gpt_oss": False},
    "cyankiwi/minimax-m2.7-awq-4bit": {"moe": True, "gpt_oss": False, "quant": "awq"},
    "google/gemma-4-26b-a4b-it": {"moe": True, "gpt_oss": False, "quant": None},
    "deepseek-ai/deepseek-v4-flash-0731": {"moe": True, "gpt_oss": False},
}

_MOE_NAME = re.compile(
    r"(-a\d+(\.\d+)?b\b|\bmoe\b|-moe|mixtral|deepseek-(v2|v3|r1|v4)|qwen3-(coder-)?next|minimax-m\d|kimi-k2|"
    r"glm-4\.[5-7]|glm-5|nemotron-3-(nano|super|ultra)|llama-4|olmoe|gpt-oss|qwen3-coder-480b|qwen3-235b|"
    r"qwen3-30b|step-3\.5|ernie-4\.5-.*a\d+b|hunyuan-a\d+b|granite-.*-a\d+b|mimo-v2)", re.I)
_QUANT_NAME = [
    (re.compile(r"nvfp4|[-_]fp4\b|w4a4", re.I), "nvfp4"),
    (re.compile(r"mxfp4", re.I), "mxfp4"),
    (re.compile(r"autoround|auto-round", re.I), "autoround"),
    (re.compile(r"gptq", re.I), "gptq"),
    (re.compile(r"\bawq\b|-awq", re.I), "awq"),
    (re.compile(r"[-_]fp8\b|[-_]fp8[-_]", re.I), "fp8"),
]


def norm_quant(q: str | None) -> str | None:
    if q is None:
        return None
    q = str(q).strip().lower()
    if q in ("", "none", "null", "auto", "bf16", "bfloat16", "fp16", "float16"):
        return None
    return _QUANT_ALIASES.get(q, q)


def parse_model_info(text: str | None) -> dict[str, Any]:
    """`moe=true,quant=nvfp4,gpt_oss=false` -> {'moe': True, 'quant': 'nvfp4', 'gpt_oss': False}."""
    out: dict[str, Any] = {}
    if not text:
        return out
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep:
            raise UsageError(f"--model-info: `{part}` is not KEY=VALUE (keys: moe, gpt_oss, quant, drafter_quant)")
        value = value.strip()
        if key in ("moe", "is_moe", "gpt_oss", "is_gpt_oss"):
            if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise UsageError(f"--model-info: {key} must be true or false, not `{value}`")
            out["gpt_oss" if "gpt" in key else "moe"] = value.lower() in ("true", "yes", "1")
        elif key in ("quant", "quantization"):
            out["quant"] = norm_quant(value)
        elif key in ("drafter_quant", "mtp_quant"):
            if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise UsageError(f"--model-info: {key} must be true or false, not `{value}`")
            out["drafter_quant"] = value.lower() in ("true", "yes", "1")
        else:
            raise UsageError(f"--model-info: unknown key `{key}` (keys: moe, gpt_oss, quant, drafter_quant)")
    return out


def facts_for(model_id: str | None, *, overrides: dict[str, Any] | None = None,
              quantization_flag: str | None = None, model_info: Any = None) -> ModelFacts:
    facts = ModelFacts(id=model_id)
    _apply_name(facts, model_id)
    info = model_info if model_info is not None else _catalog(model_id)
    if info is not None:
        src = "model catalog" if model_info is None else "model info"
        facts.is_moe = bool(getattr(info, "is_moe", False))
        facts.is_gpt_oss = bool(getattr(info, "is_gpt_oss", False))
        facts.quant = norm_quant(getattr(info, "quantization", None))
        facts.sources.update({"moe": src, "gpt_oss": src, "quant": src})
        _moe_parts(facts, info)
    if quantization_flag and norm_quant(quantization_flag) and (facts.quant is None or facts.source_of("quant") == "model name"):
        facts.quant = norm_quant(quantization_flag)
        facts.sources["quant"] = f"--quantization {quantization_flag}"
    for key, attr in (("moe", "is_moe"), ("gpt_oss", "is_gpt_oss"), ("quant", "quant")):
        if overrides and key in overrides:
            setattr(facts, attr, overrides[key])
            facts.sources[key] = "--model-info"
    if overrides and "drafter_quant" in overrides:
        facts.drafter_quantized = bool(overrides["drafter_quant"])
        facts.sources["drafter_quant"] = "--model-info"
    qsrc = facts.source_of("quant")
    if qsrc in ("--model-info", "model name") or qsrc.startswith("--quantization"):
        # a quantisation named by the launch or the name: its experts are quantised; none named is unknown
        facts.experts_quantized = (True if facts.quant is not None else facts.experts_quantized) if facts.is_moe else None
    return facts


def _moe_parts(facts: ModelFacts, info: Any) -> None:
    """Which MoE parts a catalog / local / Hub checkpoint stores quantised (its ignore list decides)."""
    try:
        from sparkpilot.models import moe

        if getattr(info, "is_moe", False):
            facts.experts_quantized = moe.experts_quantized(info)
            if getattr(info, "num_mtp_layers", 0):
                facts.drafter_quantized = moe.drafter_quantized(info)
        facts.max_positions = getattr(info, "max_position_embeddings", None)
    except Exception:  # noqa: BLE001 - a half-built ModelInfo must not break lint
        return


def _catalog(model_id: str | None) -> Any:
    if not model_id:
        return None
    try:
        from sparkpilot.models import lookup
        return lookup(model_id)
    except Exception:  # noqa: BLE001 - a missing or half-built catalog must not break lint
        return None


def _apply_name(facts: ModelFacts, model_id: str | None) -> None:
    if not model_id or "{" in model_id:
        return
    key = model_id.strip().lower().removeprefix("https://huggingface.co/").rstrip("/")
    known = KNOWN.get(key)
    if known is not None:
        facts.is_moe = known.get("moe")
        facts.is_gpt_oss = known.get("gpt_oss")
        facts.quant = known.get("quant")
        facts.sources.update({k: "built-in model facts" for k in ("moe", "gpt_oss") if k in known})
        if "quant" in known:
            facts.sources["quant"] = "built-in model facts"
            facts.experts_quantized = facts.quant is not None if facts.is_moe else None
        return
    name = key.rsplit("/", 1)[-1] if "/" in key else key
    if _MOE_NAME.search(name):
        facts.is_moe = True
        facts.sources["moe"] = "model name"
    if "gpt-oss" in name:
        facts.is_gpt_oss = True
        facts.sources["gpt_oss"] = "model name"
    for pattern, quant in _QUANT_NAME:
        if pattern.search(name):
            facts.quant = quant
            facts.sources["quant"] = "model name"
            break
