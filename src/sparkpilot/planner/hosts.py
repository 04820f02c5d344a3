"""The hosts a plan is for: their names, interconnect, memory now and whether the image has Ray,
read from the same facts doctor collects; and a stack's image and vLLM version (stacks.yaml).

    stack_facts("ngc-26.04") -> (image, vllm_version)
    read_hosts(inventory_path, hosts, image, stack_image) -> HostNodes (head first)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparkpilot import facts as facts_mod
from sparkpilot import interconnect, inventory, knowledge
from sparkpilot.errors import EXIT_FINDINGS, SparkpilotError, UsageError
from sparkpilot.planner.busy import NodeMemory
from sparkpilot.planner.launch import DEFAULT_IMAGE


@dataclass
class HostNodes:
    names: list[str] = field(default_factory=list)
    nets: list[Any] = field(default_factory=list)        # interconnect.NodeNet per node (None: unknown)
    image: str | None = None                             # the inventory's image
    memory: list[NodeMemory | None] = field(default_factory=list)
    ray: bool | None = None                              # `import ray` works in the image on the hosts


def stack_facts(name: str | None) -> tuple[str | None, str | None]:
    """(image, vLLM version) of a stack in knowledge/stacks.yaml (default: its `default` stack)."""
    entries = knowledge.load("stacks")
    if not name:
        default = default_stack_name()
        for e in entries:
            if default and e.get("name") == default:
                return None, (str(e["vllm"]) if e.get("vllm") else None)
        return None, None
    for e in entries:
        if name.lower() in (str(e.get("id", "")).lower(), str(e.get("name", "")).lower()):
            return e.get("image"), (str(e["vllm"]) if e.get("vllm") else None)
    known = ", ".join(str(e.get("name") or e.get("id")) for e in entries) or "none defined yet"
    raise UsageError(f"unknown stack {name!r} (known: {known})")


def default_stack_name() -> str | None:
    path = knowledge.HERE / "stacks.yaml"
    if not path.exists():
        return None
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data.get("default") if isinstance(data, dict) else None


def memory_now(host_facts: Any) -> NodeMemory | None:
    """The node's memory now (planner.busy.NodeMemory) from its /proc/meminfo and the processes that
    hold the most (the memory-holders probe), when they were read."""
    mem = host_facts.get("meminfo")
    if not mem or getattr(mem, "mem_free_kb", None) is None:
        return None
    gib = 1048576
    holders, why = None, ""
    procs = host_facts.get("memory-holders")
    if procs:
        holders = [f"{p.command} (pid {p.pid}) {p.rss_kb / gib:.1f} GiB" for p in procs.processes[:3]]
    else:
        why = getattr(procs, "reason", "") or "ps not answered"
    avail = mem.mem_available_kb / gib if mem.mem_available_kb is not None else None
    return NodeMemory(mem.mem_free_kb / gib, (mem.page_cache_kb or 0) / gib, avail, mem.mem_total_kb / gib,
                      holders, why)


def read_hosts(inventory_path: str | None, hosts: list[str] | None, image: str | None = None,
               stack_image: str | None = None) -> HostNodes:
    """The plan's nodes from an inventory file or host specs (nothing when neither is given). The
    image whose Ray is looked for: `image`, else the inventory's, else the stack's, else the default.
    A host that does not answer stops the plan (exit 1)."""
    if not (inventory_path or hosts):
        return HostNodes()
    inv = inventory.load(inventory_path) if inventory_path else inventory.from_hosts(list(hosts or []))
    cluster = facts_mod.collect(inv, ping=False, image=image or inv.image or stack_image or DEFAULT_IMAGE)
    down = [h for h in cluster.hosts if not h.reachable]
    if down:
        raise SparkpilotError(f"host {down[0].host} not reachable: {down[0].reason}", EXIT_FINDINGS)
    names: list[str] = []
    nets: list[Any] = []
    mems: list[NodeMemory | None] = []
    for i, node in enumerate(inv.nodes):
        names.append(node.name or f"spark-{i + 1}")
        facts = cluster.hosts[i] if i < len(cluster.hosts) else None
        nets.append(interconnect.node_net(facts) if facts is not None else None)
        mems.append(memory_now(facts) if facts is not None else None)
    # the head first: its address is the one workers join
    head = next((i for i, n in enumerate(inv.nodes) if n.role == "head"), 0)
    if head:
        names.insert(0, names.pop(head))
        nets.insert(0, nets.pop(head))
        mems.insert(0, mems.pop(head))
    return HostNodes(names, nets, inv.image, mems, ray_in_image(cluster))


def ray_in_image(cluster: Any) -> bool | None:
    """True when `import ray` works in the image on every node that has it, False when it fails on one."""
    seen = [getattr(h.get("image-ray"), "present", None) for h in cluster.hosts]
    if any(s is False for s in seen):
        return False
    return True if any(s is True for s in seen) else None
