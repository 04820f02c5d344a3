"""Collecting facts: what the probes found on each host, as snapshots. Unknown is an explicit NA with a reason.

    collect(inventory_or_runners, timeout=10.0) -> ClusterFacts

runs every probe on every host at once (a thread per host, all of a host's probes in one remote
command run side by side there; every command has a timeout), so a cluster of 16 takes about as
long as one host when waiting, not CPU, dominates. A host that does not answer is `reachable=False` with a one-line
reason, never a hang. Checks (sparkpilot.checks) are pure functions over these snapshots.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sparkpilot.errors import TransportError, UsageError
from sparkpilot.facts.model import ClusterFacts, HostFacts
from sparkpilot.facts.pings import early_pings, run_pings
from sparkpilot.facts.probing import one_line, run_all
from sparkpilot.inventory import Inventory
from sparkpilot.probes import PROBES, Probe, image_cuda_probe, image_ray_probe
from sparkpilot.transport import connect
from sparkpilot.transport.base import Runner, close_all


def _probe_list(image: str | None, image_ray: bool = True, skip: Collection[str] = ()) -> list[Probe]:
    probes = [p for p in PROBES.values() if p.id not in skip]
    if image:
        probes.append(image_cuda_probe(image))
        if image_ray:   # starts a container of the image (seconds): only what plans an executor needs it
            probes.append(image_ray_probe(image))
    return probes


def collect_host(runner: Runner, facts: HostFacts, timeout: float, image: str | None = None,
                 pings: Sequence[Probe] = (), image_ray: bool = True, skip: Collection[str] = ()) -> HostFacts:
    """Fill `facts` by running every probe on one host with `runner.run_many` (one remote command
    over ssh and local; side by side on a recording). `pings` (don't-fragment pings to the peers'
    inventory addresses, facts/pings.py) ride in the same command: facts.early_pings."""
    start = time.monotonic()
    facts.recorded = runner.recorded
    probes = _probe_list(image, image_ray, skip)
    try:
        results = run_all(runner, probes + list(pings), timeout)
        facts.results.update({r.probe: r for r in results[:len(probes)]})
        facts.early_pings = {p.argv: r for p, r in zip(pings, results[len(probes):], strict=False)}
    except TransportError as exc:
        facts.reachable = False
        reason = one_line(str(exc))
        for prefix in (f"{facts.host}: ", f"{runner.name}: "):
            if reason.startswith(prefix):
                reason = reason[len(prefix):]
        facts.reason = reason
    facts.seconds = time.monotonic() - start
    return facts


def _as_nodes(inventory_or_runners: Any) -> list[tuple[Any, HostFacts, Any]]:
    """(runner or spec, HostFacts, error) for an Inventory, or a list of runners / host specs."""
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
            items.append((r, HostFacts(r.name, None, "head" if i == 0 else "worker"), None))
    return items


def collect(inventory_or_runners: Any, timeout: float = 10.0, image: str | None = None,
            gid_index: int | None = None, ping: bool = True, image_ray: bool = True,
            skip: Collection[str] = ()) -> ClusterFacts:
    """Run all probes on all hosts concurrently, then the don't-fragment pings between them.
    image_ray=False leaves out `import ray` in a container of the image (only planning reads it);
    `skip`: probe ids left out (a caller that runs them apart, e.g. up's pre-flight)."""
    nodes = _as_nodes(inventory_or_runners)
    runners: dict[int, Runner] = {}
    early = early_pings([f for _, f, _ in nodes]) if ping else {}

    def one(i: int) -> HostFacts:
        target, facts, _ = nodes[i]
        if isinstance(target, str):
            try:
                runner = connect(target, timeout=timeout)
            except UsageError:
                raise
            except TransportError as exc:
                facts.reachable, facts.reason = False, one_line(str(exc))
                return facts
        else:
            runner = target
        runners[i] = runner
        if isinstance(target, str) and (i in early or len(nodes) == 1):
            runner.expect_single_command()   # one round trip is all this host needs (unless a ping is redone)
        return collect_host(runner, facts, timeout, image, pings=early.get(i, []), image_ray=image_ray, skip=skip)

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


def collect_runners(runners: Iterable[Runner], **kw: Any) -> ClusterFacts:
    return collect(list(runners), **kw)
