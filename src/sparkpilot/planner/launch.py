"""The launch a plan emits: a per-node LaunchSpec (CONTRACTS.md "Per-node launch").

What the reference asks for on SM121: TRITON_ATTN attention, Marlin for quantised MoE and for NVFP4
(`--moe-backend marlin`; dense NVFP4 GEMMs through VLLM_NVFP4_GEMM_BACKEND=marlin with FlashInfer's
FP4 MoE off), gptq_marlin / awq_marlin, fp8 KV cache, --max-cudagraph-capture-size 2048 and never
--enforce-eager. Unquantised MoE runs on `triton` (vLLM refuses marlin there; planner/moe.py).
Every flag is checked against the stack's vLLM (planner/stackcaps.py): what it lacks is written as the
environment variable that version has, or left out, or the plan is refused (NoValidLaunch).
Several nodes: Ray with RAY_memory_monitor_refresh_ms=0 and the interconnect environment per node, or
vLLM's native multi-node mode; containers carry the RDMA devices and unlimited locked memory.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

from sparkpilot.words import Executor
from sparkpilot.errors import EXIT_FINDINGS, SparkpilotError
from sparkpilot.interconnect import NodeNet, interconnect_env, is_placeholder
from sparkpilot.models import moe
from sparkpilot.models.info import ModelInfo
from sparkpilot.planner.memory import quant_kind
from sparkpilot.planner.stackcaps import SPEC_MOE_BACKEND, StackCaps
from sparkpilot.vllm.launchspec import LaunchSpec, NodeLaunch

DEFAULT_IMAGE = "nvcr.io/nvidia/vllm:26.04-py3"
HF_CACHE_MOUNT = "$HOME/.cache/huggingface:/root/.cache/huggingface"
RAY_PORT = 6379
# A worker's `ray start --address` gives up after RAY_NUM_REDIS_GET_RETRIES x ~1 s (Ray's default 20)
# on the head's GCS and then on the head's node in it ("Failed to get head node info: No node info
# found for head node in GCS"). up starts the workers right after the head, and a head whose GCS is up
# registers its node only after its dashboard process (30+ s seen on a loaded node): 60 tries.
RAY_WORKER_ENV = {"RAY_NUM_REDIS_GET_RETRIES": "60"}
MASTER_PORT = 29501
CONTAINER_NAME = "sparkpilot-vllm"
# Ray for an image without it (vLLM dropped Ray from its requirements for 0.18: vllm-project/vllm#33351)
RAY_INSTALL = "python3 -c 'import ray' 2>/dev/null || pip install 'ray[default]'"
# what a multi-node container needs so NCCL uses RDMA rather than sockets (CONTRACTS.md "Executors")
RDMA_DOCKER = ["--device", "/dev/infiniband"]


class NoValidLaunch(SparkpilotError):
    """The stack has no launch vLLM would accept for this model (exit 1, one line)."""

    exit_code = EXIT_FINDINGS


@dataclass
class LaunchRequest:
    model: str
    tp: int
    pp: int
    executor: Executor                 # single | ray | native
    max_model_len: int
    gpu_memory_utilization: float
    kv_cache_dtype: str
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    quantization: str | None = None
    image: str = DEFAULT_IMAGE
    node_names: list[str] = field(default_factory=list)
    node_nets: list[NodeNet | None] = field(default_factory=list)
    local_path: str | None = None      # a local model folder (mounted read-only)
    speculative_tokens: int = 0        # MTP draft tokens (the model's own MTP layers)
    caps: StackCaps | None = None      # what the stack's vLLM / NCCL / image can do (None: newest)


def quantization_flag(info: ModelInfo, requested: str | None) -> str | None:
    """The --quantization value: gptq/awq through Marlin, otherwise what the user asked."""
    q = (requested or info.quantization or "").lower()
    if q in ("gptq", "gptq_marlin"):
        return "gptq_marlin"
    if q in ("awq", "awq_marlin"):
        return "awq_marlin"
    return requested or None


def vllm_argv(info: ModelInfo, req: LaunchRequest, model_ref: str, notes: list[str] | None = None) -> list[str]:
    caps = req.caps
    notes = notes if notes is not None else []

    def has(flag: str) -> bool:
        return caps is None or caps.has(flag)

    argv = ["vllm", "serve", model_ref, "--host", "0.0.0.0", "--port", "8000",
            "--tensor-parallel-size", str(req.tp)]
    if req.pp > 1:
        argv += ["--pipeline-parallel-size", str(req.pp)]
    argv += ["--max-model-len", str(req.max_model_len),
             "--gpu-memory-utilization", f"{req.gpu_memory_utilization:.2f}"]
    if has("--attention-backend"):
        argv += ["--attention-backend", attention_backend(info, caps)]
    if req.kv_cache_dtype and req.kv_cache_dtype != "auto":
        argv += ["--kv-cache-dtype", req.kv_cache_dtype]
    q = quantization_flag(info, req.quantization)
    if q:
        argv += ["--quantization", q]
    body = moe.body_backend(info, req.quantization)
    if body and has("--moe-backend"):
        argv += ["--moe-backend", body]
    elif body and quant_kind(info, req.quantization) == "nvfp4":
        raise NoValidLaunch(f"no valid launch of {info.id} on {_stack_name(caps)}: its vLLM {caps.vllm if caps else ''} has "
                            "no --moe-backend, so the NVFP4 experts would run on the CUTLASS FP4 kernel (silent "
                            "garbage on SM121); use a stack with vLLM 0.17.1 or later (--stack ngc-26.04)")
    elif body:
        kind = quant_kind(info, req.quantization)
        notes.append(f"{_stack_name(caps)} (vLLM {caps.vllm if caps else '?'}) has no --moe-backend: vLLM picks the "
                     "MoE kernel itself (" + (f"its own choice for {kind} experts" if body == moe.QUANTIZED_BACKEND
                                             else "Triton for unquantised experts") + ")")
    if has("--max-cudagraph-capture-size"):
        argv += ["--max-cudagraph-capture-size", "2048"]
    if req.max_num_seqs:
        argv += ["--max-num-seqs", str(req.max_num_seqs)]
    if req.max_num_batched_tokens:
        argv += ["--max-num-batched-tokens", str(req.max_num_batched_tokens)]
    if req.speculative_tokens:
        # the generic "mtp" method: vLLM resolves it to the model's own drafter (the 0.20.2 log of
        # bench case 134: method 'mtp' -> "Resolved architecture: Qwen3_5MoeMTP")
        spec: dict[str, object] = {"method": "mtp", "num_speculative_tokens": int(req.speculative_tokens)}
        drafter = moe.drafter_backend(info, req.quantization, body if has("--moe-backend") else None)
        if drafter:
            if caps is not None and not caps.at_least(SPEC_MOE_BACKEND):
                raise NoValidLaunch(
                    f"no valid MTP launch of {info.id} on {_stack_name(caps)}: its MTP drafter is unquantised "
                    f"and needs \"moe_backend\": \"{drafter}\" in --speculative-config (vLLM refuses marlin "
                    "there), which vLLM has from 0.19 on; use a newer --stack or leave --speculative-tokens out")
            spec["moe_backend"] = drafter
        argv += ["--speculative-config", json.dumps(spec, separators=(",", ":"))]
    if info.extra.get("trust_remote_code"):
        argv.append("--trust-remote-code")
    nodes = len(req.node_names)
    if req.executor == "ray":
        argv += ["--distributed-executor-backend", "ray"]
    elif req.executor == "native" and nodes > 1:
        if not has("--nnodes"):
            raise NoValidLaunch(f"{_stack_name(caps)} (vLLM {caps.vllm if caps else '?'}) has no native multi-node "
                                "mode (--nnodes); use --executor ray")
        argv += ["--distributed-executor-backend", "mp", "--nnodes", str(nodes)]
    return argv


def attention_backend(info: ModelInfo, caps: StackCaps | None) -> str:
    if info.kv_lora_rank:
        return "TRITON_MLA"
    return caps.triton_attn_env_value if caps is not None and not caps.has("--attention-backend") else "TRITON_ATTN"


def _stack_name(caps: StackCaps | None) -> str:
    return f"stack {caps.name}" if caps else "this stack"


def model_env(info: ModelInfo, quantization: str | None, caps: StackCaps | None = None) -> dict[str, str]:
    env: dict[str, str] = {}
    if caps is not None and not caps.has("--attention-backend"):
        # the flag's equivalent on a vLLM without it
        env["VLLM_ATTENTION_BACKEND"] = attention_backend(info, caps)
    if quant_kind(info, quantization) == "nvfp4":
        env["VLLM_NVFP4_GEMM_BACKEND"] = "marlin"
        env["VLLM_USE_FLASHINFER_MOE_FP4"] = "0"
    return env


def docker_run(image: str, env: dict[str, str], mounts: list[str], argv: list[str],
               multi_node: bool = False) -> list[str]:
    """The node's `docker run`. Several nodes: the RDMA devices, unlimited locked memory and the host's
    IPC namespace, without which NCCL falls back to sockets (CONTRACTS.md "Executors")."""
    cmd = ["docker", "run", "-d", "--name", CONTAINER_NAME, "--gpus", "all", "--ipc=host",
           "--network", "host", "--ulimit", "memlock=-1", "--ulimit", "stack=67108864"]
    if multi_node:
        cmd += RDMA_DOCKER
    for m in mounts:
        cmd += ["-v", m]
    cmd += ["-e", "HF_TOKEN"]  # passed by name: docker copies it from the caller's environment
    for k, v in env.items():
        cmd += ["-e", f"{k}={v}"]
    return cmd + [image, *argv]


def local_model_mount(path: str) -> tuple[str, str]:
    """(path vLLM is given, the -v mount) for a local model folder. A Hugging Face cache snapshot
    (.../models--ORG--NAME/snapshots/REV) holds symlinks to ../../blobs: the repository folder is
    mounted, or the links would dangle inside the container (vLLM: "Invalid repository ID or local
    directory", seen on the simulated cluster's real vLLM)."""
    path = path.rstrip("/") or "/"
    parts = path.split("/")
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        repo = "/".join(parts[:-2])
        return f"/models/{parts[-3]}/snapshots/{parts[-1]}", f"{repo}:/models/{parts[-3]}:ro"
    ref = "/models/" + (parts[-1] or "model")
    return ref, f"{path}:{ref}:ro"


def build(info: ModelInfo, req: LaunchRequest) -> LaunchSpec:
    """The per-node launch for this plan."""
    names = req.node_names or ["spark-1"]
    nets = list(req.node_nets) + [None] * (len(names) - len(req.node_nets))
    mounts = [HF_CACHE_MOUNT]
    model_ref = req.model
    if req.local_path:
        model_ref, mount = local_model_mount(req.local_path)
        mounts.append(mount)
    notes: list[str] = []
    base_argv = vllm_argv(info, req, model_ref, notes)
    base_env = model_env(info, req.quantization, req.caps)
    multi = len(names) > 1
    executor = req.executor if multi else "single"
    pin_gid = _pin_gid(req.caps)
    head_env = interconnect_env(nets[0], pin_gid=pin_gid) if multi else {}
    ray_install = executor == "ray" and req.caps is not None and req.caps.ray is not True
    spec = _spec(base_argv, {**base_env, **head_env})
    spec.model, spec.image, spec.mounts, spec.executor = req.model, req.image, list(mounts), executor
    spec.source_kind = "plan"
    head_ip = head_env.get("VLLM_HOST_IP", "")
    for rank, (name, net) in enumerate(zip(names, nets, strict=False)):
        env = dict(base_env)
        if multi:
            env.update(interconnect_env(net, pin_gid=pin_gid))
        if executor == "ray":
            env["RAY_memory_monitor_refresh_ms"] = "0"
            install = f"({RAY_INSTALL}) && " if ray_install else ""
            if rank > 0:
                env.update(RAY_WORKER_ENV)
            if rank == 0:
                serve = shlex.join(base_argv)
                argv = ["bash", "-c", f"{install}ray start --head --port={RAY_PORT} --node-ip-address=$VLLM_HOST_IP "
                        f"--disable-usage-stats && exec {serve}"]
            else:
                argv = ["bash", "-c", f"{install}exec ray start --block --address={_addr(head_ip)}:{RAY_PORT} "
                        "--node-ip-address=$VLLM_HOST_IP --disable-usage-stats"]
        elif executor == "native":
            argv = base_argv + ["--node-rank", str(rank), "--master-addr", _addr(head_ip),
                                "--master-port", str(MASTER_PORT)]
            if rank > 0:
                argv.append("--headless")
        else:
            argv = list(base_argv)
        spec.nodes.append(NodeLaunch(name=name, role="head" if rank == 0 else "worker", argv=argv,
                                     env=env, mounts=list(mounts),
                                     docker_run=docker_run(req.image, env, mounts, argv, multi_node=multi)))
    spec.argv = list(base_argv) if executor != "native" else spec.nodes[0].argv
    spec.env = dict(spec.nodes[0].env)
    spec.docker_args = _docker_options(spec.nodes[0].docker_run or [], req.image)
    if ray_install and req.caps is not None:
        notes.append(f"the image of {req.caps.name} may lack Ray ({req.caps.ray_why}): each node installs it "
                     "before `ray start` (needs network in the container); --executor native needs no Ray")
    if multi and pin_gid is False:
        for net in nets:
            bare = [d.netdev for d in (net.up_devices if net else []) if not d.ipv4]
            if bare:
                notes.append(f"{net.name if net else '?'}: {', '.join(bare)} up without an IPv4 address: NCCL's own "
                             "GID choice follows the address family and needs one on every port it uses "
                             "(`sparkpilot net plan`), or leave the port out of NCCL_IB_HCA")
        notes.append(f"NCCL_IB_GID_INDEX is left unset: the NCCL of {req.caps.name if req.caps else 'this stack'} "
                     f"({req.caps.nccl if req.caps else '2.21+'}) picks the RoCEv2 GID by address family; every "
                     "QSFP port NCCL uses must carry its IPv4 address (`sparkpilot net check`)")
    spec.notes = notes
    return spec


def _pin_gid(caps: StackCaps | None) -> bool:
    """Pin NCCL_IB_GID_INDEX from the host facts only where the stack's NCCL does not pick it itself
    (older than 2.21, or unknown). CONTRACTS.md "The interconnect environment"."""
    return caps is None or caps.nccl_auto_gid is not True


def _docker_options(run: list[str], image: str) -> list[str]:
    """The options between `docker run` and the image (what the rdma-devices rule reads)."""
    if image in run:
        return list(run[2:run.index(image)])
    return []


def _spec(argv: list[str], env: dict[str, str]) -> LaunchSpec:
    """The vLLM command as lint sees it (options by canonical name), when the parser is there."""
    try:
        from sparkpilot.vllm.parse import parse_argv
    except ImportError:  # pragma: no cover - lint's parser ships with the package
        return LaunchSpec(argv=list(argv), env=dict(env))
    return parse_argv(argv, env)


def _addr(value: str) -> str:
    return "<HEAD_IP>" if not value or is_placeholder(value) else value


def placeholders(spec: LaunchSpec) -> list[str]:
    """`node: VAR` for every environment value the plan could not know."""
    out = []
    for node in spec.nodes:
        out += [f"{node.name}: {k}" for k, v in node.env.items() if is_placeholder(v)]
    return out
