"""Facts: what the probes found on each host, as snapshots. Unknown is an explicit NA with a reason.

    collect(inventory_or_runners, timeout=10.0) -> ClusterFacts

runs every probe on every host at once (a thread per host, all of a host's probes in one remote
command run side by side there; every command has a timeout), so a cluster of 16 takes about as
long as one host when waiting, not CPU, dominates. A host that does not answer is `reachable=False` with a one-line
reason, never a hang. Checks (sparkpilot.checks) are pure functions over these snapshots.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from collections.abc import Iterable, Sequence
from typing import Any

from sparkpilot.errors import TransportError
from sparkpilot.probes import PROBES, Probe, image_cuda_probe, to_dict
from sparkpilot.transport.base import Runner, close_all

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


def classify(probe: Probe, rc: int | None, stdout: str, stderr: str, timeout: float) -> ProbeResult:
    """Turn one command's outcome into a parsed value or an NA with a reason (pure)."""
    res = ProbeResult(probe.id, list(probe.argv), rc=rc, stdout=stdout, stderr=stderr)
    err = stderr.strip().splitlines()[0][:160] if stderr.strip() else ""
    tool = probe.tool
    if NOT_RECORDED in stderr:
        res.na = NA(f"{probe.id} is not in the recording")
        return res
    if rc in (None, 124):
        res.na = NA(f"{tool} did not answer within {timeout:g} s")
        return res
    if any(s in stderr or s in stdout for s in SUDO_REFUSED) and not _has_data(probe, stdout):
        res.na = NA(f"needs passwordless sudo for {tool}")
        return res
    if rc == 127 or (re.search(r"(command )?not found", err) and not stdout.strip()):
        res.na = NA(f"{tool} is not installed on the host")
        return res
    if rc not in probe.ok_rc and not stdout.strip():
        if "No such file" in stderr:
            res.na = NA(f"{tool} does not exist on the host")
        else:
            res.na = NA(f"{tool} failed (exit {rc}){': ' + err if err else ''}")
        return res
    try:
        res.value = probe.parse(stdout)
    except Exception as exc:  # noqa: BLE001 - any parser failure is an unknown, never a crash
        reason = f"could not read the output of {tool}: {exc}"
        if rc not in probe.ok_rc:
            reason = f"{tool} failed (exit {rc}): {err or exc}"
        res.na = NA(reason[:200])
    return res


def _has_data(probe: Probe, stdout: str) -> bool:
    return (probe.id in ("netplan", "ethtool-module") and "## " in stdout) or "# file:" in stdout


def run_probe(runner: Runner, probe: Probe, timeout: float) -> ProbeResult:
    """Run one probe; TransportError (host gone) propagates, everything else becomes an NA."""
    t = probe.timeout or timeout
    start = time.monotonic()
    wall = time.time()
    try:
        out = runner.run(list(probe.argv), timeout=t)
    except TransportError:
        raise
    except (OSError, ValueError) as exc:
        res = ProbeResult(probe.id, list(probe.argv), na=NA(f"could not run {probe.tool}: {exc}"))
        return res
    res = classify(probe, out.rc, out.stdout, out.stderr, t)
    res.seconds = out.seconds if out.seconds else time.monotonic() - start
    res.local_start, res.local_end = wall, time.time()
    return res


def clock_offset(facts: HostFacts) -> tuple[float, float] | None:
    """(offset of the host's clock from this machine's, uncertainty) in seconds; None on
    recordings or when unknown."""
    res = facts.results.get("clock")
    if facts.recorded or res is None or res.value is None or not res.local_end:
        return None
    mid = (res.local_start + res.local_end) / 2
    return res.value.epoch - mid, (res.local_end - res.local_start) / 2


def run_all(runner: Runner, probes: list[Probe], timeout: float) -> list[ProbeResult]:
    """Every probe in one remote command where the runner can (`runner.run_many`: over ssh each
    probe side by side on the host, framed by byte counts). TransportError (host gone) propagates."""
    longest = max(p.timeout or timeout for p in probes)
    wall = time.time()
    outs = runner.run_many([list(p.argv) for p in probes], timeout=longest)
    end = time.time()
    results = []
    for p, out in zip(probes, outs, strict=False):
        res = classify(p, out.rc, out.stdout, out.stderr, p.timeout or timeout)
        res.seconds = out.seconds
        res.local_start, res.local_end = wall, end
        results.append(res)
    return results


def _probe_list(image: str | None) -> list[Probe]:
    probes = list(PROBES.values())
    if image:
        probes.append(image_cuda_probe(image))
    return probes


def collect_host(runner: Runner, facts: HostFacts, timeout: float, image: str | None = None,
                 pings: Sequence[Probe] = ()) -> HostFacts:
    """Fill `facts` by running every probe on one host with `runner.run_many` (one remote command
    over ssh and local; side by side on a recording). `pings` (don't-fragment pings to the peers'
    inventory addresses, sparkpilot.pings) ride in the same command: facts.early_pings."""
    start = time.monotonic()
    facts.recorded = runner.recorded
    probes = _probe_list(image)
    try:
        results = run_all(runner, probes + list(pings), timeout)
        facts.results.update({r.probe: r for r in results[:len(probes)]})
        facts.early_pings = {p.argv: r for p, r in zip(pings, results[len(probes):], strict=False)}
    except TransportError as exc:
        facts.reachable = False
        reason = _one_line(str(exc))
        for prefix in (f"{facts.host}: ", f"{runner.name}: "):
            if reason.startswith(prefix):
                reason = reason[len(prefix):]
        facts.reason = reason
    facts.seconds = time.monotonic() - start
    return facts


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0][:200] if lines else "no answer"


def _as_nodes(inventory_or_runners: Any) -> list[tuple[Any, HostFacts, Any]]:
    """(runner or spec, HostFacts, error) for an Inventory, or a list of runners / host specs."""
    from sparkpilot.inventory import Inventory

    items: list[tuple[Any, HostFacts, Any]] = []
    if isinstance(inventory_or_runners, Inventory):
        for node in inventory_or_runners.nodes:
            items.append((node.ssh, HostFacts(node.ssh, node.name, node.role,
                                              interconnect=list(node.interconnect)), None))
        return items
    for i, r in enumerate(inventory_or_runners):
        if isinstance(r, str):
            items.append((r, HostFacts(r, None, "head" if i == 0 else "worker"), None))
        else:
            items.append((r, HostFacts(getattr(r, "name", str(r)), None, "head" if i == 0 else "worker"), None))
    return items


def collect(inventory_or_runners: Any, timeout: float = 10.0, image: str | None = None,
            gid_index: int | None = None, ping: bool = True) -> ClusterFacts:
    """Run all probes on all hosts concurrently, then the don't-fragment pings between them."""
    from sparkpilot.errors import UsageError

    nodes = _as_nodes(inventory_or_runners)
    runners: dict[int, Runner] = {}
    early = early_pings([f for _, f, _ in nodes]) if ping else {}

    def one(i: int) -> HostFacts:
        target, facts, _ = nodes[i]
        if isinstance(target, str):
            from sparkpilot.transport import connect

            try:
                runner = connect(target, timeout=timeout)
            except UsageError:
                raise
            except TransportError as exc:
                facts.reachable, facts.reason = False, _one_line(str(exc))
                return facts
        else:
            runner = target
        runners[i] = runner
        if isinstance(target, str) and (i in early or len(nodes) == 1):
            runner.expect_single_command()   # one round trip is all this host needs (unless a ping is redone)
        return collect_host(runner, facts, timeout, image, pings=early.get(i, []))

    cluster = ClusterFacts(image=image, gid_index=gid_index)
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(32, len(nodes)))) as pool:
            cluster.hosts = list(pool.map(one, range(len(nodes))))
        if ping and len(cluster.hosts) > 1:
            cluster.pings = run_pings(cluster, runners, timeout)
    finally:
        if not isinstance(inventory_or_runners, (list, tuple)) or \
                any(isinstance(t, str) for t, _, _ in nodes):
            _close([r for i, r in runners.items() if isinstance(nodes[i][0], str)])
    return cluster


def _close(runners: list[Runner]) -> None:
    """Close the runners collect opened side by side (each ssh master exits in its own time)."""
    close_all(runners)


def interconnect_addresses(facts: HostFacts) -> list[str]:
    from sparkpilot.pings import interconnect_addresses as addrs

    return addrs(facts)


def early_pings(hosts: list[HostFacts]) -> dict[int, list[Probe]]:
    from sparkpilot.pings import early_pings as early

    return early(hosts)


def run_pings(cluster: ClusterFacts, runners: dict[int, Runner], timeout: float) -> list[PingResult]:
    from sparkpilot.pings import run_pings as run

    return run(cluster, runners, timeout)


def collect_runners(runners: Iterable[Runner], **kw: Any) -> ClusterFacts:
    return collect(list(runners), **kw)
