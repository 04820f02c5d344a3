"""LaunchSpec: one structure for any vLLM launch.

`lint` parses command lines, docker run lines, compose files, Kubernetes specs and recipes into it;
`plan` emits it; `up` runs it. The per-node shape follows CONTRACTS.md "Per-node launch".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
class LaunchSpec:
    model: str | None = None
    # vLLM options by canonical destination name (e.g. "tensor_parallel_size"); a flag given
    # without value is True, a --no- flag is False.
    options: dict[str, Any] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)     # the vLLM command as written (after env/docker)
    env: dict[str, str] = field(default_factory=dict)
    image: str | None = None
    mounts: list[str] = field(default_factory=list)
    executor: str = "single"                          # "single" | "ray" | "native"
    nodes: list[NodeLaunch] = field(default_factory=list)
    source_kind: str = "command"                      # command | script | docker | compose | k8s | recipe
    locations: dict[str, str] = field(default_factory=dict)  # option/env name -> "file:line" where it was set

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "executor": self.executor,
                "nodes": [n.to_dict() for n in self.nodes]}
