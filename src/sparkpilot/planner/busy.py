"""A node whose memory other processes hold (issue 8, point 5): the plan's verdict is that it will not
start there, with the utilisation that would start (doctor's memory-budget figure) and what holds it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sparkpilot.checks.host import start_utilization

DROP_CACHES = "sudo sh -c 'sync; echo 3 > /proc/sys/vm/drop_caches'"


@dataclass
class NodeMemory:
    """A node's memory now, from its /proc/meminfo (GiB) and the processes that hold the most."""
    free_gib: float
    cache_gib: float
    available_gib: float | None = None
    total_gib: float | None = None
    holders: list[str] | None = None          # "python3 (pid 1234) 41.2 GiB"; None: not known
    holders_unknown: str = ""                 # why not known

    @property
    def held_by_others_gib(self) -> float | None:
        if self.available_gib is None or self.total_gib is None:
            return None
        return self.total_gib - self.available_gib

    @property
    def start_utilization(self) -> float | None:
        if self.available_gib is None or not self.total_gib:
            return None
        return start_utilization(self.available_gib, self.total_gib)


def as_node_memory(mem: object) -> NodeMemory | None:
    """NodeMemory from what callers pass (a NodeMemory, or the older (free, page cache) pair)."""
    if mem is None or isinstance(mem, NodeMemory):
        return mem
    if isinstance(mem, (tuple, list)) and len(mem) >= 2:
        return NodeMemory(float(mem[0]), float(mem[1]))
    return None


@dataclass
class Busy:
    node: str
    mem: NodeMemory
    util: float                       # the utilisation that starts there now
    starts_at_util: bool              # the plan still fits at that utilisation
    notes: list[str] = field(default_factory=list)

    def headline(self) -> str:
        return f"WILL NOT START on {self.node}"

    def reason(self, budget_gib: float) -> str:
        mem = self.mem
        held = mem.held_by_others_gib or 0.0
        who = ", ".join(mem.holders) if mem.holders else f"not known ({mem.holders_unknown or 'no process list'})"
        then = (f"it starts there at --gpu-memory-utilization {self.util:.2f}" if self.starts_at_util else
                "at that utilisation this plan does not fit: free the memory first")
        return (f"{self.node}: other processes hold {held:.1f} GiB; only {mem.available_gib:.1f} GiB of "
                f"{mem.total_gib:.1f} GiB is available, below the {budget_gib:.1f} GiB budget, so vLLM stops at "
                f"start. The utilisation that would start now is {self.util:.2f} (doctor's memory-budget); {then}. "
                f"Holding the most memory: {who}")


def page_cache_note(name: str, mem: NodeMemory, budget_gib: float) -> str:
    return (f"{name} has {mem.free_gib:.1f} GiB free now ({mem.cache_gib:.1f} GiB page cache), below the "
            f"{budget_gib:.1f} GiB budget: vLLM will refuse to start; drop the page cache first ({DROP_CACHES})")
