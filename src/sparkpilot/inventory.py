"""The inventory: which Sparks, how to reach them, their roles and interconnect addresses.

YAML exactly as CONTRACTS.md ("Inventory file"):

    nodes:
      - name: spark-1
        ssh: user@spark-1
        role: head
        interconnect: [192.168.100.10, 192.168.101.10]   # optional
      - name: spark-2
        ssh: user@spark-2
    image: nvcr.io/nvidia/vllm:26.04-py3                 # optional

`--host A --host B` is shorthand for an inventory of those hosts, the first one head.
`--host replay://pair` stands for every node of that recording. Anything wrong: UsageError, one line.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkpilot.errors import UsageError

ROLES = ("head", "worker")


@dataclass
class Node:
    name: str
    ssh: str
    role: str = "worker"
    interconnect: list[str] = field(default_factory=list)


@dataclass
class Inventory:
    nodes: list[Node] = field(default_factory=list)
    image: str | None = None
    source: str | None = None   # the file it came from

    @property
    def head(self) -> Node:
        return next((n for n in self.nodes if n.role == "head"), self.nodes[0])


def _expand_replay(spec: str) -> list[str]:
    from sparkpilot.transport.replay import expand

    return expand(spec)


def from_hosts(hosts: list[str] | None, image: str | None = None) -> Inventory:
    """`--host A --host B ...` (default: local). replay://NAME expands to every node it recorded."""
    specs: list[str] = []
    for h in hosts or ["local"]:
        if not isinstance(h, str) or not h.strip():
            raise UsageError("empty --host: give `local`, `user@host[:port]` or `replay://NAME`")
        h = h.strip()
        specs.extend(_expand_replay(h) if h.startswith("replay://") else [h])
    if not hosts:
        specs = ["local"]
    _check_specs(specs)
    nodes = [Node(_display(s), s, "head" if i == 0 else "worker") for i, s in enumerate(specs)]
    _unique(nodes, "--host")
    return Inventory(nodes, image)


def _display(spec: str) -> str:
    return spec


def _check_specs(specs: list[str]) -> None:
    from sparkpilot.transport import parse_host_spec

    for s in specs:
        if s == "local" or s.startswith("replay://"):
            continue
        parse_host_spec(s)   # UsageError with one line when malformed


def _unique(nodes: list[Node], where: str) -> None:
    seen: set[str] = set()
    for n in nodes:
        if n.name in seen:
            raise UsageError(f"{where}: node `{n.name}` is listed twice")
        seen.add(n.name)


def load(path: str | Path) -> Inventory:
    """Read and validate an inventory file; every problem is a one-line UsageError (exit 2)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"inventory `{path}`: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"inventory `{path}`: cannot read it ({exc})") from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"inventory `{path}`: not valid YAML{where}: {problem}") from None
    return parse(data, str(path))


def parse(data: Any, where: str = "inventory") -> Inventory:
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a mapping with `nodes:` (see CONTRACTS.md, Inventory file)")
    unknown = set(data) - {"nodes", "image"}
    if unknown:
        raise UsageError(f"{where}: unknown key `{sorted(unknown)[0]}` (expected `nodes`, `image`)")
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise UsageError(f"{where}: `nodes` must be a non-empty list")
    image = data.get("image")
    if image is not None and (not isinstance(image, str) or not image.strip()):
        raise UsageError(f"{where}: `image` must be an image reference, e.g. nvcr.io/nvidia/vllm:26.04-py3")
    nodes = []
    for i, raw in enumerate(raw_nodes, 1):
        nodes.append(_node(raw, f"{where}: node {i}"))
    _unique(nodes, where)
    heads = [n for n in nodes if n.role == "head"]
    if len(heads) > 1:
        raise UsageError(f"{where}: more than one node has role head ({heads[0].name}, {heads[1].name})")
    if not heads:
        nodes[0].role = "head"
    _check_specs([n.ssh for n in nodes])
    return Inventory(nodes, image.strip() if image else None, where)


def _node(raw: Any, where: str) -> Node:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: expected a mapping with `name` and `ssh`")
    unknown = set(raw) - {"name", "ssh", "role", "interconnect"}
    if unknown:
        raise UsageError(f"{where}: unknown key `{sorted(unknown)[0]}` (expected name, ssh, role, interconnect)")
    name, ssh = raw.get("name"), raw.get("ssh")
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"{where}: `name` is missing")
    where = f"{where.rsplit(':', 1)[0]}: node `{name}`"
    if ssh is None:
        ssh = name
    if not isinstance(ssh, str) or not ssh.strip():
        raise UsageError(f"{where}: `ssh` must be a destination, e.g. user@spark-1")
    role = raw.get("role", "worker")
    if role not in ROLES:
        raise UsageError(f"{where}: role `{role}` is not one of {', '.join(ROLES)}")
    addrs = raw.get("interconnect") or []
    if isinstance(addrs, str):
        addrs = [addrs]
    if not isinstance(addrs, list):
        raise UsageError(f"{where}: `interconnect` must be a list of addresses")
    for a in addrs:
        try:
            ipaddress.ip_address(str(a))
        except ValueError:
            raise UsageError(f"{where}: interconnect address `{a}` is not an IP address") from None
    return Node(name.strip(), ssh.strip(), role, [str(a) for a in addrs])
