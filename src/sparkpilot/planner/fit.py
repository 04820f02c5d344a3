"""plan(request, model info) -> Plan: does it fit, with how much KV cache, on how many Sparks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparkpilot.words import Executor
from sparkpilot.errors import UsageError
from sparkpilot.interconnect import NodeNet
from sparkpilot.models.info import ModelInfo
from sparkpilot.planner import kv, memory
from sparkpilot.planner.busy import Busy, as_node_memory, page_cache_note
from sparkpilot.planner.eta import startup_eta
from sparkpilot.planner.launch import DEFAULT_IMAGE, LaunchRequest, build
from sparkpilot.planner.memory import GIB
from sparkpilot.planner.stackcaps import StackCaps, for_stack
from sparkpilot.vllm.launchspec import LaunchSpec

MAX_NODES = 16
FALLBACK_CONTEXT = 32768


@dataclass
class PlanRequest:
    model: str
    nodes: int | None = None            # Sparks, or GPUs with memory_gib
    tp: int | None = None
    pp: int | None = None
    executor: Executor | None = None    # ray | native (several nodes)
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    kv_cache_dtype: str | None = None
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    quantization: str | None = None
    memory_gib: float | None = None     # another GPU: total memory as CUDA reports it
    image: str | None = None
    node_names: list[str] = field(default_factory=list)
    node_nets: list[NodeNet | None] = field(default_factory=list)
    cudagraph_profiled: bool | None = None  # vLLM >= 0.21 subtracts its CUDA graph estimate
    vllm_version: str | None = None     # of the stack (default: the reference's NGC 26.04, 0.19.0)
    local_path: str | None = None
    node_memory: list[Any] = field(default_factory=list)  # busy.NodeMemory (or (free, page cache) GiB) per node
    speculative_tokens: int = 0         # MTP draft tokens (--speculative-config num_speculative_tokens)
    stack: str | None = None            # knowledge/stacks.yaml name (None: by image, else the default)
    ray_detected: bool | None = None    # `import ray` in the image, when it was tried on a host


@dataclass
class Plan:
    model: str
    nodes: int
    tensor_parallel_size: int
    pipeline_parallel_size: int
    executor: Executor
    gpu_memory_utilization: float
    max_model_len: int
    max_model_len_fit: int
    kv_cache_dtype: str
    weights_gib_per_gpu: float
    kv_cache_gib_per_gpu: float
    kv_cache_tokens: int
    max_concurrency: float
    activation_gib: float
    cudagraph_gib: float
    fits: bool
    reason: str
    min_nodes: int | None
    startup_eta_s: dict[str, float]
    launch: LaunchSpec | None = None
    # shown in text only (not part of the JSON contract)
    total_gib: float = 0.0
    budget_gib: float = 0.0
    non_torch_gib: float = 0.0
    kv_need_gib: float = 0.0
    kv_bytes_per_token: float = 0.0
    kv_tokens_legacy: int = 0
    weights_source: str = ""
    notes: list[str] = field(default_factory=list)
    busy: list[Busy] = field(default_factory=list)   # nodes whose memory others hold: it will not start there

    KEYS = ("model", "nodes", "tensor_parallel_size", "pipeline_parallel_size", "executor",
            "gpu_memory_utilization", "max_model_len", "max_model_len_fit", "kv_cache_dtype",
            "weights_gib_per_gpu", "kv_cache_gib_per_gpu", "kv_cache_tokens", "max_concurrency",
            "activation_gib", "cudagraph_gib", "fits", "reason", "min_nodes", "startup_eta_s")

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.KEYS}
        out["launch"] = self.launch.to_dict() if self.launch else None
        return out


def heads_divide(info: ModelInfo, tp: int) -> bool:
    heads = info.num_attention_heads
    if not heads:
        return True
    kvh = info.num_key_value_heads or heads
    return heads % tp == 0 and (kvh % tp == 0 or tp % kvh == 0)


def choose_parallel(info: ModelInfo, gpus: int) -> tuple[int, int]:
    """TP = number of GPUs; when the heads do not divide, the largest TP that does, times PP."""
    for tp in range(gpus, 0, -1):
        if gpus % tp == 0 and heads_divide(info, tp):
            pp = gpus // tp
            if pp <= (info.num_hidden_layers or pp):
                return tp, pp
    return 1, gpus


@dataclass
class _Memory:
    weights: int
    source: str
    activation: int
    non_torch: int
    cudagraph: int
    budget: float
    available: int


def _memory(info: ModelInfo, req: PlanRequest, tp: int, pp: int, total_gib: float, util: float,
            batched: int, seqs: int) -> _Memory:
    split = memory.weights_per_gpu(info, tp, pp, req.quantization, req.speculative_tokens)
    if split is None:
        raise UsageError(f"not enough facts about {info.id} to size its weights "
                         "(need the checkpoint size or hidden size, layers, heads and vocabulary)")
    act = memory.activation_bytes(info, batched, seqs, tp, req.vllm_version)
    nt = memory.non_torch_bytes(tp, pp)
    cg = memory.cudagraph_bytes(info, 2048, pp)
    budget = total_gib * util * GIB
    profiled = req.cudagraph_profiled
    if profiled is None:
        profiled = (memory.version_tuple(req.vllm_version) or (0, 0)) >= (0, 21)
    avail = budget - split.per_gpu_bytes - act - nt - (cg if profiled else 0)
    return _Memory(split.per_gpu_bytes, split.source, act, nt, cg, budget, int(avail))


def _layout(info: ModelInfo, req: PlanRequest, tp: int, pp: int, kv_dtype: str) -> kv.KVLayout:
    # 'align' Mamba cache mode (prefix caching on a hybrid model) is in the logs of vLLM 0.19.2rc1
    # (a public Qwen3.6-35B-A3B-NVFP4 log, "[config.py:331] Mamba cache mode is set to 'align'")
    # and 0.20+ (cases 016, 130, 134, 138); older builds are taken to keep one state block per request
    # Gemma 4's sliding / global layers of different sizes got the hybrid allocator in 0.21
    v = memory.version_tuple(req.vllm_version)
    return kv.layout(info, tp, pp, kv_dtype, speculative_tokens=req.speculative_tokens,
                     mamba_align=v is None or v >= (0, 19), mixed_geometry_hybrid=v is None or v >= (0, 21))


def _fits(info, req, gpus, total_gib, util, mml, kv_dtype, batched, seqs) -> bool:
    tp, pp = choose_parallel(info, gpus)
    m = _memory(info, req, tp, pp, total_gib, util, batched, seqs)
    lay = _layout(info, req, tp, pp, kv_dtype)
    return m.available > 0 and kv.need_bytes(lay, mml, batched) <= m.available


def choose_executor(gpus: int, asked: Executor | None, caps: StackCaps) -> tuple[Executor, str]:
    """(executor, why) for a plan: one node needs none; several follow the stack's image
    (CONTRACTS.md "Executors": an image without Ray gets native)."""
    if gpus == 1:
        return "single", ""
    if asked:
        return asked, ""
    native = caps.has("--nnodes")
    if caps.ray is True or not native:
        why = f"the image of {caps.name} has Ray" if caps.ray else \
            f"vLLM {caps.vllm} of {caps.name} has no native multi-node mode (--nnodes)"
        return "ray", f"executor ray: {why} (knowledge/stacks.yaml)"
    state = "has no Ray" if caps.ray is False else "may not have Ray (not published)"
    return "native", (f"executor native (vLLM's own --nnodes/--node-rank/--master-addr): the image of {caps.name} "
                      f"{state}; --executor ray installs Ray in each container first")


def plan(req: PlanRequest, info: ModelInfo) -> Plan:
    spark = req.memory_gib is None
    gpus = req.nodes or len(req.node_names) or None
    if req.tp or req.pp:
        tp, pp = req.tp or 1, req.pp or 1
        if gpus and tp * pp != gpus:
            raise UsageError(f"--tp {tp} x --pp {pp} = {tp * pp} GPUs, but the plan has {gpus} "
                             f"({'one GPU per Spark' if spark else '--nodes counts GPUs'})")
        gpus = tp * pp
    else:
        gpus = gpus or 1
        tp, pp = choose_parallel(info, gpus)
    if gpus < 1 or gpus > 256:
        raise UsageError(f"number of nodes must be between 1 and 256, not {gpus}")
    if req.tp and not heads_divide(info, tp):
        raise UsageError(f"--tp {tp} does not divide the {info.num_attention_heads} attention heads "
                         f"of {info.id}; use --pp")
    total_gib = req.memory_gib or memory.GB10_CUDA_TOTAL_GIB
    default_batched, default_seqs = memory.vllm_default_limits(total_gib)
    batched = req.max_num_batched_tokens or default_batched
    seqs = req.max_num_seqs or default_seqs
    kv_dtype = req.kv_cache_dtype or "fp8"
    mla_fp8_ok = (memory.version_tuple(req.vllm_version) or (0, 0)) >= (0, 21)
    if info.kv_lora_rank and not req.kv_cache_dtype and not mla_fp8_ok:
        # TRITON_MLA raised NotImplementedError for FP8 KV cache until mid-2026 (vllm-project/vllm#35577)
        kv_dtype = "auto"
    if kv_dtype not in memory.KV_CACHE_DTYPES:
        raise UsageError(f"unknown --kv-cache-dtype {kv_dtype!r} (one of {', '.join(memory.KV_CACHE_DTYPES)})")
    util_given = req.gpu_memory_utilization
    if util_given is not None:
        if not 0 < util_given <= 1:
            raise UsageError(f"--gpu-memory-utilization must be in (0, 1], not {util_given}")
        if spark and util_given > memory.SPARK_UTIL_MAX:
            raise UsageError(f"--gpu-memory-utilization {util_given} is above 0.90: on a Spark the page "
                             "cache shares the memory and CUDA runs out at start (0.85-0.87 is safe)")
    model_max = info.max_position_embeddings or FALLBACK_CONTEXT
    notes: list[str] = list(info.warnings)   # what the model loader found (e.g. a download in progress)
    if info.kv_lora_rank and kv_dtype == "auto" and not req.kv_cache_dtype:
        notes.append("MLA model: KV cache left in the model dtype, because TRITON_MLA on this vLLM has no FP8 KV "
                     "cache (vllm-project/vllm#35577); use --kv-cache-dtype fp8 on a vLLM that has it")
    mml = req.max_model_len or model_max
    if req.max_model_len is not None and req.max_model_len < 1:
        raise UsageError(f"--max-model-len must be positive, not {req.max_model_len}")
    if req.max_model_len and info.max_position_embeddings and req.max_model_len > model_max:
        # vLLM: "User-specified max_model_len (X) is greater than the derived max_model_len ..." at start
        # unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 (outputs past the trained positions are not reliable)
        raise UsageError(f"--max-model-len {req.max_model_len} is above the {model_max} positions of {info.id} "
                         f"(max_position_embeddings): vLLM refuses it at start; the largest valid is {model_max}")
    util = util_given or memory.default_utilization(mml)
    if req.speculative_tokens and req.speculative_tokens < 0:
        raise UsageError(f"--speculative-tokens must be 0 or more, not {req.speculative_tokens}")
    if req.speculative_tokens and not info.num_mtp_layers:
        raise UsageError(f"--speculative-tokens needs a model with MTP layers; {info.id} has none "
                         "(a separate draft model is not planned)")
    lay = _layout(info, req, tp, pp, kv_dtype)
    if info.full_kv_heads and info.num_sliding_layers and lay.sliding_layers == 0 and not lay.mamba_layers:
        notes.append("this vLLM keeps a full-length KV cache in every sliding-window layer of this model "
                     "(hybrid KV cache from vLLM 0.21 on holds several times more tokens; vllm-project/vllm#43308)")
    m = _memory(info, req, tp, pp, total_gib, util, batched, seqs)
    fit_len = kv.max_len_fit(lay, m.available, batched, max(model_max, mml))
    if req.max_model_len is None and fit_len < mml and fit_len >= 1024:
        # no context asked for: take the largest that fits (recomputed with its utilisation)
        # the default utilisation depends on the length (higher for shorter contexts), so settle
        # on a length that fits at its own utilisation
        for _ in range(6):
            new = min(fit_len // 1024 * 1024, model_max)
            if new == mml or new < 1024:
                break
            mml = new
            util = util_given or memory.default_utilization(mml)
            m = _memory(info, req, tp, pp, total_gib, util, batched, seqs)
            fit_len = kv.max_len_fit(lay, m.available, batched, max(model_max, mml))
        mml = min(mml, fit_len // 1024 * 1024) or mml
        notes.append(f"max-model-len lowered from the model's {model_max} to {mml} to fit")
    cap = kv.capacity(lay, m.available, mml, batched)
    need = kv.need_bytes(lay, mml, batched)
    fits = m.available > 0 and need <= m.available
    budget_gib = m.budget / GIB
    if m.weights > m.budget:
        reason = (f"weights need {m.weights / GIB:.1f} GiB per GPU, more than the {budget_gib:.1f} GiB "
                  f"budget ({util:.2f} x {total_gib:.2f} GiB) at TP={tp} PP={pp}")
    elif m.available <= 0:
        reason = (f"weights {m.weights / GIB:.1f} GiB + activations {m.activation / GIB:.1f} GiB + "
                  f"non-torch {m.non_torch / GIB:.2f} GiB leave no room for KV cache in the "
                  f"{budget_gib:.1f} GiB budget")
    elif not fits:
        reason = (f"one request of {mml} tokens needs {need / GIB:.2f} GiB of KV cache but only "
                  f"{m.available / GIB:.2f} GiB is left; the largest max-model-len that fits is {fit_len}")
    else:
        reason = (f"fits: {m.weights / GIB:.1f} GiB weights + {m.activation / GIB:.1f} GiB activations "
                  f"leave {m.available / GIB:.1f} GiB for {cap.tokens:,} tokens of KV cache "
                  f"({cap.max_concurrency:.2f} requests of {mml} tokens)")
    busy: list[Busy] = []
    for name, raw in zip(req.node_names, req.node_memory, strict=False):
        mem = as_node_memory(raw)
        if mem is None:
            continue
        if mem.available_gib is not None and mem.total_gib and mem.available_gib < budget_gib:
            # MemAvailable counts the page cache the kernel can drop: what is missing is held by others
            u = mem.start_utilization or 0.0
            starts = u > 0 and _fits(info, req, gpus, total_gib, u, mml, kv_dtype, batched, seqs)
            busy.append(Busy(name, mem, u, starts))
        elif mem.free_gib < budget_gib:
            notes.append(page_cache_note(name, mem, budget_gib))
    if busy:
        fits = False
        reason = "will not start: " + " ".join(b.reason(budget_gib) for b in busy)
    min_nodes = None
    for n in range(1, MAX_NODES + 1):
        if _fits(info, req, n, total_gib, util, mml, kv_dtype, batched, seqs):
            min_nodes = n
            break
    caps = for_stack(req.stack, req.image, req.ray_detected)
    executor, executor_why = choose_executor(gpus, req.executor, caps)
    if executor_why:
        notes.append(executor_why)
    names = list(req.node_names) or ([f"spark-{i + 1}" for i in range(gpus)] if spark else
                                     [f"gpu-{i}" for i in range(gpus)])
    launch = build(info, LaunchRequest(
        model=req.model, tp=tp, pp=pp, executor=executor, max_model_len=mml,
        gpu_memory_utilization=util, kv_cache_dtype=kv_dtype, max_num_seqs=req.max_num_seqs,
        max_num_batched_tokens=req.max_num_batched_tokens, quantization=req.quantization,
        image=req.image or DEFAULT_IMAGE, node_names=names, node_nets=list(req.node_nets),
        local_path=req.local_path, speculative_tokens=req.speculative_tokens, caps=caps))
    notes.extend(launch.notes)
    eta = startup_eta(m.weights, gpus, executor)
    return Plan(
        model=req.model, nodes=gpus, tensor_parallel_size=tp, pipeline_parallel_size=pp,
        executor=executor, gpu_memory_utilization=round(util, 4), max_model_len=mml,
        max_model_len_fit=fit_len, kv_cache_dtype=kv_dtype,
        weights_gib_per_gpu=round(m.weights / GIB, 2),
        kv_cache_gib_per_gpu=round(max(m.available, 0) / GIB, 2), kv_cache_tokens=cap.tokens,
        max_concurrency=round(cap.max_concurrency, 2), activation_gib=round(m.activation / GIB, 2),
        cudagraph_gib=round(m.cudagraph / GIB, 2), fits=fits, reason=reason, min_nodes=min_nodes,
        startup_eta_s=eta, launch=launch, total_gib=total_gib, budget_gib=round(budget_gib, 2),
        non_torch_gib=round(m.non_torch / GIB, 2), kv_need_gib=round(need / GIB, 2),
        kv_bytes_per_token=lay.bytes_per_token(), kv_tokens_legacy=cap.tokens_legacy,
        weights_source=m.source, notes=notes, busy=busy)
