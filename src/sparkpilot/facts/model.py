"""What the probes found, as snapshots: HostFacts per host, ClusterFacts for all of them.

Unknown is an explicit NA with a reason (falsy; never 0, never a pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparkpilot.probes import to_dict

SUDO_REFUSED = ("a password is required", "a terminal is required", "no tty present",
                "may not run sudo", "is not in the sudoers")
NOT_RECORDED = "sparkpilot replay: no recording of this command"


@dataclass(frozen=True)
class NA:
    """An unknown value, with the reason it is unknown. Falsy; never 0, never a pass."""
    reason: str

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return f"unknown ({self.reason})"


@dataclass
class ProbeResult:
    probe: str
    argv: list[str]
    value: Any = None             # the parsed dataclass, or None when na is set
    na: NA | None = None
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    local_start: float = 0.0      # this machine's clock around the command (for clock offsets)
    local_end: float = 0.0

    def get(self) -> Any:
        return self.na if self.na is not None else self.value


@dataclass
class HostFacts:
    host: str                                 # as shown to the user
    name: str | None = None                   # inventory node name
    role: str | None = None
    reachable: bool = True
    reason: str | None = None                 # why not reachable
    interconnect: list[str] = field(default_factory=list)   # addresses from the inventory
    results: dict[str, ProbeResult] = field(default_factory=dict)
    recorded: bool = False                    # replay host: outputs are recordings, not live
    seconds: float = 0.0
    early_pings: dict[tuple[str, ...], ProbeResult] = field(default_factory=dict, repr=False)  # by ping argv

    def get(self, probe_id: str) -> Any:
        """The parsed value of a probe, or an NA saying why it is unknown."""
        if not self.reachable:
            return NA(f"host not reachable: {self.reason}")
        res = self.results.get(probe_id)
        if res is None:
            return NA(f"{probe_id} was not run")
        return res.get()

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "name": self.name, "reachable": self.reachable, "reason": self.reason,
                "probes": {pid: ({"unknown": r.na.reason} if r.na else to_dict(r.value))
                           for pid, r in self.results.items()}}


@dataclass
class PingResult:
    source: str           # host
    target: str           # host
    address: str
    size: int             # ICMP payload (MTU - 28)
    ok: bool | None       # None: could not run
    detail: str


@dataclass
class ClusterFacts:
    hosts: list[HostFacts] = field(default_factory=list)
    pings: list[PingResult] = field(default_factory=list)
    image: str | None = None
    gid_index: int | None = None     # the NCCL_IB_GID_INDEX a launch will use, when the user said so

    @property
    def reachable(self) -> list[HostFacts]:
        return [h for h in self.hosts if h.reachable]
