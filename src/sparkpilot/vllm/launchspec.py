"""LaunchSpec: one structure for any vLLM launch.

`lint` parses command lines, docker run lines, compose files, Kubernetes specs and recipes into it;
`plan` emits it; `up` runs it. The per-node shape follows CONTRACTS.md "Per-node launch".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparkpilot.words import Executor


@dataclass
class NodeLaunch:
    name: str
    role: str = "head"                              # "head" | "worker"
    argv: list[str] = field(default_factory=list)   # the command run in the container on this node
    env: dict[str, str] = field(default_factory=dict)
    mounts: list[str] = field(default_factory=list)  # "host:container[:ro]"
    docker_run: list[str] | None = None              # the full `docker run ...` argv for this node

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "argv": list(self.argv), "env": dict(self.env),
                "mounts": list(self.mounts), "docker_run": self.docker_run}


@dataclass
class FlagUse:
    """One vLLM option as written in the launch (for unknown-flag, locations and --fix)."""
    written: str                  # as written, e.g. "-tp", "--max_num_batched_tokens", "--x=1"
    flag: str                     # canonical long form, e.g. "--tensor-parallel-size"
    dest: str                     # e.g. "tensor_parallel_size"
    value: Any = True             # str, True (bare flag) or False (--no- form)
    index: int = 0                # index of the flag token in LaunchSpec.argv
    location: str | None = None   # "file:line" (or "argv:N" for a command line)


@dataclass
class LaunchSpec:
    model: str | None = None
    # vLLM options by canonical destination name (e.g. "tensor_parallel_size"); a flag given
    # without value is True, a --no- flag is False.
    options: dict[str, Any] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)     # the vLLM command as written (after env/docker)
    env: dict[str, str] = field(default_factory=dict)
    image: str | None = None
    mounts: list[str] = field(default_factory=list)
    executor: Executor = "single"                     # "single" | "ray" | "native"
    nodes: list[NodeLaunch] = field(default_factory=list)
    # command | script | docker | compose | k8s | recipe | cluster (a run_cluster.sh script without vLLM)
    source_kind: str = "command"
    locations: dict[str, str] = field(default_factory=dict)  # option/env name -> "file:line" where it was set
    # Added by the parsers (all optional, so older callers keep working):
    flag_uses: list[FlagUse] = field(default_factory=list)  # options in the order written
    node_count: int | None = None       # Sparks the launch says it runs on (None: not stated)
    multi_node_hints: list[str] = field(default_factory=list)  # why we think it is multi-node
    env_files: list[str] = field(default_factory=list)   # docker --env-file / compose env_file not read
    notes: list[str] = field(default_factory=list)       # things the parser could not follow
    filename: str | None = None
    launcher: str | None = None          # "sparkrun" | "eugr" when a known launcher starts the cluster
    docker_args: list[str] | None = None  # `docker run` options before the image (None: not a docker run)
    origin: Any = field(default=None, repr=False, compare=False)  # parser state used by --fix

    def origin_is_local(self) -> bool:
        """True when the launch runs in one container on one host (docker run without a cluster)."""
        return self.source_kind in ("docker", "compose", "k8s") and self.executor == "single"

    @property
    def tensor_parallel(self) -> int:
        return _as_int(self.options.get("tensor_parallel_size"), 1)

    @property
    def pipeline_parallel(self) -> int:
        return _as_int(self.options.get("pipeline_parallel_size"), 1)

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "executor": self.executor,
                "nodes": [n.to_dict() for n in self.nodes]}


def _as_int(value: Any, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default
