"""A deployment's containers on one node, through that node's Docker engine (the `docker` CLI run
on the node over its Runner, so the node's own daemon, images and devices are used).

    argv = run_argv(dep, node, home="/home/me")       # the plan's docker run + labels, name, cache
    listed = ps(runner, dep.name)                      # [Container], this deployment's
    removed = remove(runner, dep.name)                 # names removed
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from sparkpilot.launcher.deployment import LABEL, Deployment, Node
from sparkpilot.transport.base import Runner

COMPILE_CACHE = ".cache/sparkpilot/vllm-cache"     # under the node's $HOME; vLLM's VLLM_CACHE_ROOT
CONTAINER_CACHE = "/root/.cache/vllm"               # torch.compile and other caches: a restart skips compiling
# Every compile/JIT cache a restart would otherwise redo, pointed under the one mount (a variable the
# plan sets itself is kept). Defaults that a new container loses: inductor's $TMPDIR/torchinductor_$USER
# (vLLM moves it under its torch_compile_cache/<hash>/ only once its model compile starts; the
# torch.compile'd sampler and logprobs ops of the API server and workers keep the default), Triton's
# ~/.triton/cache, FlashInfer's ~/.cache/flashinfer (JIT ops and downloaded cubins: SM121 builds on a
# GB10; FLASHINFER_WORKSPACE_BASE/.cache/flashinfer) and the driver's PTX JIT cache ~/.nv/ComputeCache.
# All are keyed by content or config hash, so models and ports share the folder safely.
CACHE_ENV = {
    "VLLM_CACHE_ROOT": CONTAINER_CACHE,
    "TORCHINDUCTOR_CACHE_DIR": f"{CONTAINER_CACHE}/torchinductor",
    "TRITON_CACHE_DIR": f"{CONTAINER_CACHE}/triton",
    "FLASHINFER_WORKSPACE_BASE": f"{CONTAINER_CACHE}/flashinfer",
    "CUDA_CACHE_PATH": f"{CONTAINER_CACHE}/nv-compute-cache",
}
DOCKER_TIMEOUT = 60.0
# docker run options that take a value (the ones a plan writes or a user adds); enough to find the image
_VALUED = {"--name", "-v", "--volume", "-e", "--env", "--env-file", "--ulimit", "--network", "--net",
           "--gpus", "--device", "--ipc", "--shm-size", "-p", "--publish", "--label", "-l", "--runtime",
           "--entrypoint", "-w", "--workdir", "-u", "--user", "--restart", "--mount", "--cap-add",
           "--security-opt", "--pid", "--hostname", "-h", "--memory", "-m", "--cpus", "--log-driver",
           "--log-opt", "--platform", "--pull", "--group-add", "--tmpfs", "--add-host", "--uts"}


@dataclass
class Container:
    id: str
    name: str
    state: str              # running | exited | created | restarting | dead | paused
    status: str             # docker's words ("Up 3 minutes", "Exited (1) 2 seconds ago")
    labels: dict[str, str]
    image: str = ""
    created: str = ""

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "state": self.state, "status": self.status,
                "image": self.image, "created": self.created, "labels": self.labels}


def image_index(docker_run: list[str], image: str) -> int:
    """Where the image is in a `docker run` argv (the options before it are docker's)."""
    i = 2 if docker_run[:2] == ["docker", "run"] else 1
    while i < len(docker_run):
        a = docker_run[i]
        if a == image:
            return i
        if a in _VALUED:
            i += 2
            continue
        if not a.startswith("-"):
            return i
        i += 1
    raise ValueError(f"no image in the docker run line: {shlex.join(docker_run)}")


def expand_home(arg: str, home: str) -> str:
    for ref in ("${HOME}", "$HOME"):
        arg = arg.replace(ref, home)
    if arg.startswith("~/"):
        arg = home + arg[1:]
    return arg.replace(":~/", f":{home}/")


def run_argv(dep: Deployment, node: Node, home: str, env_file: str | None = None) -> list[str]:
    """The plan's `docker run` for this node, as a deployment runs it:
    --name sparkpilot-NAME, labels naming the deployment, the compile cache mounted, $HOME expanded,
    detached; never a Docker restart policy (the supervisor restarts the whole deployment)."""
    plan_run = [expand_home(a, home) for a in node.launch.docker_run]
    at = image_index(plan_run, dep.image or plan_run[-1])
    opts, rest = plan_run[2:at] if plan_run[:2] == ["docker", "run"] else plan_run[1:at], plan_run[at:]
    kept: list[str] = []
    i = 0
    while i < len(opts):
        a = opts[i]
        if a in ("--name", "--restart"):
            i += 2
            continue
        if a.startswith(("--name=", "--restart=", "--rm")):
            i += 1
            continue
        kept.append(a)
        i += 1
    detach = [] if "-d" in kept or "--detach" in kept else ["-d"]
    labels: list[str] = []
    for k, v in dep.labels(node).items():
        labels += ["--label", f"{k}={v}"]
    cache = ["-v", f"{home.rstrip('/')}/{COMPILE_CACHE}:{CONTAINER_CACHE}"]
    given = env_names(kept)
    for k, v in CACHE_ENV.items():
        if k not in given:
            cache += ["-e", f"{k}={v}"]
    extra = ["--env-file", env_file] if env_file else []
    return ["docker", "run", *detach, "--name", dep.container, *labels, *cache, *extra, *kept, *rest]


def env_names(opts: list[str]) -> set[str]:
    """The variables `docker run` options set (-e NAME=V, -e NAME, --env=NAME=V)."""
    names = set()
    for i, a in enumerate(opts):
        val = opts[i + 1] if a in ("-e", "--env") and i + 1 < len(opts) else \
            a.split("=", 1)[1] if a.startswith("--env=") else None
        if val:
            names.add(val.split("=", 1)[0])
    return names


def ps_argv(name: str | None = None) -> list[str]:
    filt = f"label={LABEL}={name}" if name else f"label={LABEL}"
    return ["docker", "ps", "-a", "--no-trunc", "--filter", filt, "--format", "{{json .}}"]


def parse_ps(text: str) -> list[Container]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        labels = {}
        for pair in str(row.get("Labels") or "").split(","):
            k, sep, v = pair.partition("=")
            if sep:
                labels[k] = v
        out.append(Container(id=str(row.get("ID", ""))[:12], name=str(row.get("Names", "")),
                             state=str(row.get("State", "")).lower(), status=str(row.get("Status", "")),
                             labels=labels, image=str(row.get("Image", "")), created=str(row.get("CreatedAt", ""))))
    return out


class DockerError(Exception):
    """A docker command failed on a node; `missing` when docker itself is not there."""

    def __init__(self, message: str, missing: bool = False):
        super().__init__(message)
        self.missing = missing


@dataclass
class Logs:
    text: str               # the container's stdout then stderr (vLLM logs to both), every line time-stamped
    running: bool | None    # still running (None: unknown)


def read_logs(runner: Runner, name: str, timeout: float = 60.0) -> Logs:
    """All of a container's output so far (`docker logs --timestamps`: the daemon's UTC time on every
    line, so a start still running can be timed against now), and whether it still runs.
    DockerError (its message is docker's last line) when the logs cannot be read."""
    if not name or name.startswith("-") or any(ch.isspace() for ch in name):
        raise ValueError(f"bad container name `{name}`")
    result = runner.run(["docker", "logs", "--timestamps", name], timeout=timeout)
    if result.rc != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        text = lines[-1] if lines else f"exit {result.rc}"
        missing = result.rc == 127 or ("not found" in text and "docker" in text and "container" not in text.lower())
        raise DockerError(text, missing=missing)
    inspect = runner.run(["docker", "inspect", "--format", "{{.State.Running}}", name], timeout=15.0)
    running = inspect.stdout.strip() == "true" if inspect.rc == 0 else None
    return Logs((result.stdout or "") + ("\n" + result.stderr if result.stderr else ""), running)


def _docker(runner: Runner, argv: list[str], timeout: float = DOCKER_TIMEOUT) -> str:
    res = runner.run(argv, timeout=timeout)
    if res.rc != 0:
        lines = [ln for ln in (res.stderr or res.stdout).strip().splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit {res.rc}"
        if res.rc == 127:
            why = "docker is not installed on this node"
        raise DockerError(f"{runner.name}: `{' '.join(argv[:3])}` failed: {why}")
    return res.stdout


def ps(runner: Runner, name: str | None = None) -> list[Container]:
    return parse_ps(_docker(runner, ps_argv(name)))


def remove(runner: Runner, name: str) -> list[Container]:
    """Remove every container of the deployment on this node (running or not); what was removed."""
    found = ps(runner, name)
    if found:
        _docker(runner, ["docker", "rm", "-f", *[c.id for c in found]], timeout=90.0)
    return found


def state(runner: Runner, container: str) -> tuple[str, int | None]:
    """(status, exit code) of a container; ("missing", None) when it is gone."""
    res = runner.run(["docker", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container],
                     timeout=30.0)
    if res.rc != 0:
        return "missing", None
    status, _, code = res.stdout.strip().partition(" ")
    return status, int(code) if code.strip().lstrip("-").isdigit() else None


def logs_argv(container: str, follow: bool = True, since: str | None = None, tail: str | None = None) -> list[str]:
    argv = ["docker", "logs", "--timestamps"]
    if follow:
        argv.append("--follow")
    if since:
        argv += ["--since", since]
    if tail:
        argv += ["--tail", tail]
    return [*argv, container]


def image_id(runner: Runner, image: str) -> str | None:
    res = runner.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], timeout=30.0)
    return res.stdout.strip() or None if res.rc == 0 else None


def node_home(runner: Runner) -> str:
    res = runner.run(["printenv", "HOME"], timeout=15.0)
    home = res.stdout.strip()
    return home if res.rc == 0 and home.startswith("/") else "/root"
