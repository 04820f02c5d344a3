"""What to benchmark: the endpoint, the served model and the deployment behind it, found on the host.

`--container NAME` (on `--host`, default this machine) reads the deployment from Docker: its image
(the client runs inside it), mounts (the model's files for the tokenizer), launch argv (TP size,
lint) and port; `--endpoint URL` alone benchmarks any OpenAI server with a `vllm` on the host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sparkpilot.benchmark import envelope
from sparkpilot.benchmark.client import Client
from sparkpilot.errors import EXIT_FINDINGS, EXIT_USAGE, SparkpilotError
from sparkpilot.models.info import ModelInfo
from sparkpilot.transport.base import CommandResult, Runner


@dataclass(frozen=True)
class Served:
    model: str        # the id clients send
    root: str         # what the server loaded (a Hub id or a path): the tokenizer to use
    max_model_len: int | None


def http_get(runner: Runner, url: str, timeout: float) -> CommandResult:
    """GET `url` from `runner`'s host (curl, or python3 where curl is missing): the server listens
    there, maybe on its loopback only."""
    script = ('curl -sf --max-time "$2" "$1" 2>/dev/null || python3 -c '
              '"import sys,urllib.request;sys.stdout.write(urllib.request.urlopen(sys.argv[1],'
              'timeout=float(sys.argv[2])).read().decode())" "$1" "$2"')
    return runner.run(["sh", "-c", script, "get", url, f"{timeout:g}"], timeout=timeout + 10)


def served_models(runner: Runner, base_url: str) -> Served:
    url = base_url.rstrip("/") + "/v1/models"
    result = http_get(runner, url, 10)
    if not result.ok or not result.stdout.strip():
        raise SparkpilotError(f"no OpenAI server answers at {url} (from {runner.name})", EXIT_FINDINGS)
    try:
        data = json.loads(result.stdout)["data"][0]
    except (json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
        raise SparkpilotError(f"{url} did not list a model ({type(exc).__name__})", EXIT_FINDINGS) from exc
    limit = data.get("max_model_len")
    return Served(model=str(data["id"]), root=str(data.get("root") or data["id"]),
                  max_model_len=int(limit) if isinstance(limit, int) else None)


def tp_size(argv: list[str]) -> int:
    """--tensor-parallel-size / -tp of a launch (1 when absent)."""
    for i, word in enumerate(argv):
        for flag in ("--tensor-parallel-size", "-tp"):
            if word == flag and i + 1 < len(argv) and argv[i + 1].isdigit():
                return int(argv[i + 1])
            if word.startswith(flag + "="):
                value = word.split("=", 1)[1]
                if value.isdigit():
                    return int(value)
    return 1


def model_info(ref: str | None, served: Served) -> ModelInfo | None:
    """The served model's shapes: `ref` (a local folder or catalog id) or the served id offline."""
    from sparkpilot import models

    for candidate in [c for c in (ref, served.root, served.model) if c]:
        try:
            return models.resolve(candidate, offline=True)
        except SparkpilotError:
            if candidate == ref:
                raise
    return None


def client_for(runner: Runner, base_url: str, container: str | None, image: str | None,
               served: Served) -> tuple[Client, envelope.Deployment | None]:
    deployment = envelope.inspect_container(runner, container) if container else None
    use_image = image or (deployment.image if deployment else None)
    mounts = deployment.mounts if deployment else []
    if not base_url:
        raise SparkpilotError("give --endpoint URL (or --container of a running vLLM)", EXIT_USAGE)
    return Client(base_url=base_url, model=served.model, tokenizer=served.root, image=use_image,
                  mounts=mounts), deployment


def port_of(argv: list[str]) -> int:
    for i, word in enumerate(argv):
        if word == "--port" and i + 1 < len(argv) and argv[i + 1].isdigit():
            return int(argv[i + 1])
        if word.startswith("--port="):
            return int(word.split("=", 1)[1])
    return 8000


@dataclass(frozen=True)
class Deployed:
    """A deployment `sparkpilot up` started, as this machine remembers it."""

    host: str                     # the head node, where the endpoint is
    container: str
    nodes: int
    model: str
    max_concurrency: int | None


def deployed(name: str) -> Deployed:
    from sparkpilot.launcher import state

    data = state.load(name)
    if not data:
        known = ", ".join(state.names()) or "none"
        raise SparkpilotError(f"no deployment `{name}` started from this machine (known: {known}); "
                              "give --host and --container instead", EXIT_USAGE)
    plan = data.get("plan") or {}
    hosts = list(data.get("hosts") or ["local"])
    conc = plan.get("max_concurrency")
    return Deployed(host=str(hosts[0]), container=f"sparkpilot-{name}", nodes=len(hosts),
                    model=str(plan.get("model") or ""),
                    max_concurrency=int(conc) if isinstance(conc, (int, float)) and conc >= 1 else None)
