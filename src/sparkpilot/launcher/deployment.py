"""A deployment: a plan's per-node launch bound to hosts, with a name.

    dep = Deployment.from_plan(plan_dict, hosts=["user@spark-1", "user@spark-2"], name="qwen")
    dep.nodes[0].host, dep.nodes[0].launch.argv, dep.labels(dep.nodes[0])

The plan is what `sparkpilot plan --output FILE` writes (CONTRACTS.md "Per-node launch"): `up`
runs its `launch` as written; it only adds what a deployment needs (labels, the container's
name, the compile cache mount, the port when `--port` is given).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sparkpilot import words
from sparkpilot.words import Executor
from sparkpilot.errors import UsageError

LABEL = "sparkpilot.deployment"      # every container of a deployment carries it (down / status / logs)
PLAN_SCHEMA_KEYS = ("schema", "schema_version", "plan_schema")  # whichever plan writes
SUPPORTED_SCHEMAS = (1,)
DEFAULT_PORT = 8000
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def default_name(model: str) -> str:
    """A deployment name from a model id: `Qwen/Qwen3-32B` -> `qwen3-32b`."""
    base = model.rstrip("/").rsplit("/", 1)[-1].lower()
    base = re.sub(r"[^a-z0-9_.-]+", "-", base).strip("-.") or "vllm"
    return base[:63]


def check_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise UsageError(f"bad --name {name!r}: lower-case letters, digits, '.', '_' and '-' (at most 63)")
    return name


@dataclass
class NodeLaunchPlan:
    name: str
    role: str
    argv: list[str]
    env: dict[str, str]
    mounts: list[str]
    docker_run: list[str]


@dataclass
class Node:
    rank: int
    host: str                 # host spec: "local", "user@spark-1", ...
    launch: NodeLaunchPlan

    @property
    def name(self) -> str:
        return self.launch.name

    @property
    def role(self) -> str:
        return self.launch.role


@dataclass
class Deployment:
    name: str
    model: str
    image: str
    executor: Executor        # single | native | ray
    nodes: list[Node]
    port: int = DEFAULT_PORT
    plan: dict[str, Any] = field(default_factory=dict)

    @property
    def head(self) -> Node:
        return self.nodes[0]

    @property
    def container(self) -> str:
        return f"sparkpilot-{self.name}"

    @property
    def eta(self) -> dict[str, float]:
        raw = self.plan.get("startup_eta_s") or {}
        return {k: float(v) for k, v in raw.items() if isinstance(v, (int, float))}

    def labels(self, node: Node) -> dict[str, str]:
        return {LABEL: self.name, "sparkpilot.node": node.name, "sparkpilot.rank": str(node.rank),
                "sparkpilot.role": node.role, "sparkpilot.model": self.model,
                "sparkpilot.executor": self.executor, "sparkpilot.nodes": str(len(self.nodes)),
                "sparkpilot.port": str(self.port)}

    def endpoint_host(self) -> str:
        host = self.head.host
        if host == "local":
            return "127.0.0.1"
        host = host.removeprefix("ssh://").rsplit("@", 1)[-1]
        if host.startswith("["):
            return host.split("]")[0] + "]"
        return host.split(":")[0] if host.count(":") == 1 else host

    @property
    def endpoint(self) -> str:
        return f"http://{self.endpoint_host()}:{self.port}/v1"

    @classmethod
    def from_plan(cls, plan: dict[str, Any], hosts: list[str] | None, name: str | None = None,
                  port: int | None = None) -> Deployment:
        launch = validate_plan(plan)
        raw_nodes = launch["nodes"]
        hosts = list(hosts or [])
        if not hosts:
            if len(raw_nodes) > 1:
                raise UsageError(f"the plan runs on {len(raw_nodes)} nodes: give one --host per node "
                                 "(or --inventory), the head first")
            hosts = ["local"]
        if len(hosts) != len(raw_nodes):
            raise UsageError(f"the plan runs on {len(raw_nodes)} node(s) but {len(hosts)} host(s) were given")
        model = str(plan.get("model") or "")
        nodes = []
        for rank, (raw, host) in enumerate(zip(raw_nodes, hosts, strict=False)):
            nodes.append(Node(rank, host, NodeLaunchPlan(
                name=str(raw.get("name") or f"node-{rank + 1}"), role=str(raw.get("role") or
                                                                          ("head" if rank == 0 else "worker")),
                argv=[str(a) for a in raw["argv"]], env={str(k): str(v) for k, v in (raw.get("env") or {}).items()},
                mounts=[str(m) for m in raw.get("mounts") or []], docker_run=[str(a) for a in raw["docker_run"]])))
        plan_port = _argv_port(nodes[0].launch.argv) or DEFAULT_PORT
        dep = cls(name=check_name(name or default_name(model)), model=model, image=str(launch.get("image") or ""),
                  executor=words.executor(launch.get("executor") or "single"), nodes=nodes, port=port or plan_port,
                  plan=plan)
        if port and port != plan_port:
            for node in nodes:
                node.launch.argv = set_port(node.launch.argv, port)
                node.launch.docker_run = set_port(node.launch.docker_run, port)
        return dep


def validate_plan(plan: Any) -> dict[str, Any]:
    """The plan's `launch`, or a UsageError saying what is wrong with the file (one line)."""
    if not isinstance(plan, dict):
        raise UsageError("not a plan: expected a JSON object (write one with `sparkpilot plan MODEL --output FILE`)")
    version = next((plan[k] for k in PLAN_SCHEMA_KEYS if k in plan), None)
    if version is not None:
        major = str(version).split(".")[0]
        if not major.isdigit() or int(major) not in SUPPORTED_SCHEMAS:
            raise UsageError(f"plan schema {version} is not one this sparkpilot reads "
                             f"({', '.join(map(str, SUPPORTED_SCHEMAS))}): make the plan again with this version")
    if plan.get("fits") is False:
        raise UsageError(f"the plan does not fit: {plan.get('reason') or 'see sparkpilot plan'}")
    launch = plan.get("launch")
    if not isinstance(launch, dict) or not isinstance(launch.get("nodes"), list) or not launch["nodes"]:
        raise UsageError("the plan has no launch (`launch.nodes`): make it with `sparkpilot plan MODEL --output FILE`")
    if launch.get("executor") not in (None, "single", "native", "ray"):
        raise UsageError(f"unknown executor {launch.get('executor')!r} in the plan (single, native or ray)")
    for i, node in enumerate(launch["nodes"]):
        if not isinstance(node, dict) or not isinstance(node.get("argv"), list) or \
                not isinstance(node.get("docker_run"), list) or not node["docker_run"]:
            raise UsageError(f"plan node {i + 1} has no argv / docker_run")
        text = " ".join(map(str, node["docker_run"]))
        holes = sorted(set(re.findall(r"<([A-Z][A-Z0-9_]*)>", text)))
        if holes:
            raise UsageError(f"plan node {node.get('name') or i + 1} still has placeholders "
                             f"({', '.join(holes)}): plan again with --host per node to read them")
    return launch


def load_plan(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise UsageError(f"no such plan file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON (line {exc.lineno}: {exc.msg})") from None


def _argv_port(argv: list[str]) -> int | None:
    for i, a in enumerate(argv):
        if a == "--port" and i + 1 < len(argv) and argv[i + 1].isdigit():
            return int(argv[i + 1])
        if a.startswith("--port=") and a[7:].isdigit():
            return int(a[7:])
    for a in argv:  # a `bash -c "ray start ... --port=6379 && exec vllm serve ... --port N"` (Ray head)
        if " " in a and "vllm serve" in a:
            m = re.search(r"--port[= ](\d+)", a[a.index("vllm serve"):])
            if m:
                return int(m[1])
    return None


def set_port(argv: list[str], port: int) -> list[str]:
    out = list(argv)
    for i, a in enumerate(out):
        if a == "--port" and i + 1 < len(out):
            out[i + 1] = str(port)
        elif a.startswith("--port="):
            out[i] = f"--port={port}"
        elif " " in a and "vllm serve" in a:
            at = a.index("vllm serve")
            out[i] = a[:at] + re.sub(r"(--port[= ])\d+", rf"\g<1>{port}", a[at:])
    return out
