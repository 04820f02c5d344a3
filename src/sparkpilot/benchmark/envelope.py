"""What a run ran on, read before and after it: the deployment (image, versions, launch flags) and
the host (GPU clocks and their cap reasons, power, temperatures, page cache).

The host figures come from the same probes doctor uses (sparkpilot.probes); each is None when the
host cannot give it (no nvidia-smi on the simulated cluster's CPU engine), never 0.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sparkpilot.probes import PROBES
from sparkpilot.secrets import mask_secrets
from sparkpilot.transport.base import Runner

HOT_GPU_C = 75.0   # reference: GPU 60-75 C under sustained inference
HOT_CPU_C = 65.0   # reference: CPU 50-65 C under sustained inference


@dataclass
class HostSample:
    gpu_temperature_c: float | None = None
    gpu_power_w: float | None = None
    gpu_name: str | None = None
    driver_version: str | None = None
    clock_caps: list[str] = field(default_factory=list)   # active throttle reasons
    cpu_temperature_c: float | None = None                 # hottest thermal zone
    page_cache_gib: float | None = None
    mem_available_gib: float | None = None

    def marks(self) -> list[str]:
        out = []
        if self.clock_caps:
            out.append("throttled: " + ", ".join(self.clock_caps))
        if self.gpu_temperature_c is not None and self.gpu_temperature_c > HOT_GPU_C:
            out.append(f"hot: GPU {self.gpu_temperature_c:.0f} C (normal under load 60-75 C)")
        if self.cpu_temperature_c is not None and self.cpu_temperature_c > HOT_CPU_C:
            out.append(f"hot: CPU {self.cpu_temperature_c:.0f} C (normal under load 50-65 C)")
        return out


@dataclass
class Deployment:
    container: str | None = None
    image: str | None = None
    image_id: str | None = None
    repo_digests: list[str] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)          # the served launch (entrypoint + command)
    env: dict[str, str] = field(default_factory=dict)      # masked
    mounts: list[str] = field(default_factory=list)        # -v specs to reuse for the client
    vllm_version: str | None = None
    nccl_version: str | None = None


def _probe(runner: Runner, pid: str) -> Any:
    probe = PROBES[pid]
    try:
        result = runner.run(list(probe.argv), timeout=probe.timeout or 10.0)
    except Exception:  # noqa: BLE001 - a host that cannot answer leaves the figure unknown
        return None
    if result.rc not in probe.ok_rc:
        return None
    try:
        return probe.parse(result.stdout)
    except ValueError:
        return None


def sample_host(runner: Runner) -> HostSample:
    sample = HostSample()
    query = _probe(runner, "nvidia-smi")
    if query is not None and query.gpus:
        gpu = query.gpus[0]
        sample.gpu_temperature_c, sample.gpu_power_w = gpu.temperature_c, gpu.power_w
        sample.gpu_name, sample.driver_version = gpu.name, gpu.driver_version
    perf = _probe(runner, "nvidia-smi-perf")
    if perf is not None:
        sample.clock_caps = list(perf.throttling)
    zones = _probe(runner, "thermal")
    if zones is not None:
        temps = [z.temp_c for z in zones.zones if z.temp_c is not None]
        sample.cpu_temperature_c = max(temps) if temps else None
    mem = _probe(runner, "meminfo")
    if mem is not None:
        kb = 1024 * 1024
        sample.page_cache_gib = mem.page_cache_kb / kb if mem.page_cache_kb is not None else None
        sample.mem_available_gib = mem.mem_available_kb / kb if mem.mem_available_kb is not None else None
    return sample


def _version(runner: Runner, container: str, code: str) -> str | None:
    result = runner.run(["docker", "exec", container, "python3", "-c", code], timeout=60)
    text = result.stdout.strip().splitlines()
    return text[-1].strip() if result.ok and text else None


def inspect_container(runner: Runner, container: str) -> Deployment:
    """The running deployment's container: image, launch, env (masked), mounts, vLLM and NCCL versions."""
    result = runner.run(["docker", "inspect", container], timeout=20)
    if not result.ok:
        from sparkpilot.errors import EXIT_USAGE, SparkpilotError

        raise SparkpilotError(f"no container `{container}` on {runner.name}: "
                              + (result.stderr.strip().splitlines() or ["docker inspect failed"])[-1], EXIT_USAGE)
    data = json.loads(result.stdout)[0]
    config = data.get("Config") or {}
    env = {}
    for item in config.get("Env") or []:
        key, _, value = mask_secrets(str(item)).partition("=")
        env[key] = value
    mounts = [f"{m['Source']}:{m['Destination']}" + ("" if m.get("RW", True) else ":ro")
              for m in data.get("Mounts") or [] if m.get("Source") and m.get("Destination")]
    image_id = data.get("Image")
    digests: list[str] = []
    if image_id:
        img = runner.run(["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", image_id], timeout=20)
        if img.ok:
            try:
                digests = list(json.loads(img.stdout) or [])
            except json.JSONDecodeError:
                digests = []
    return Deployment(
        container=container, image=config.get("Image"), image_id=image_id, repo_digests=digests,
        argv=[mask_secrets(a) for a in list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])],
        env=env, mounts=mounts,
        vllm_version=_version(runner, container, "import vllm; print(vllm.__version__)"),
        nccl_version=_version(runner, container,
                              "import torch; print('.'.join(map(str, torch.cuda.nccl.version())))"),
    )


def to_dict(obj: HostSample | Deployment) -> dict[str, Any]:
    return asdict(obj)
