"""Don't-fragment pings between nodes over their interconnect addresses (doctor's peer-reachable).

Each node pings its peers' interconnect addresses with `ping -M do -s MTU-28`: a reply means the
address answers AND a full-size frame crosses the link unfragmented. Up to 4 nodes ping all
peers; larger clusters ping along a ring (each node its next) plus the head to and from every
node, so every node is tested as sender and receiver on every rail in O(N) pings instead of O(N^2).
All pings of one node go in one remote command; each ping sends a packet every 0.2 s until the
first reply, for 2 s at most (a first packet lost to ARP is no failure).

When the inventory gives the peers' interconnect addresses, each node's pings at the usual MTU
(9000) ride in the same remote command as its probes (`early_pings`, one round trip per host);
once the facts are known, a ping whose size is not the source port's MTU-28 (a port at 1500, a
host whose addresses come from its facts) is sent again at the right size, after all hosts.
"""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sparkpilot.errors import TransportError
from sparkpilot.facts.model import ClusterFacts, HostFacts, PingResult
from sparkpilot.facts.probing import one_line, run_all
from sparkpilot.probes import Probe, ping_probe
from sparkpilot.probes.network import parse_ping
from sparkpilot.transport.base import Runner

ALL_TO_ALL_UP_TO = 4
USUAL_MTU = 9000   # what a QSFP port should have (doctor's mtu check): the size of the early pings


def interconnect_addresses(facts: Any) -> list[str]:
    """The node's interconnect addresses: from the inventory, else the IPv4 of its QSFP ports with a link."""
    if facts.interconnect:
        return list(facts.interconnect)
    links = facts.get("ip-addr")
    if not links:
        return []
    return [a.split("/")[0] for ln in links.links if ln.is_qsfp and ln.carrier for a in ln.ipv4]


def mtu_towards(facts: Any, address: str) -> int | None:
    links = facts.get("ip-addr")
    if not links:
        return None
    for ln in links.links:
        for a in ln.ipv4:
            try:
                if ipaddress.ip_address(address) in ipaddress.ip_interface(a).network:
                    return ln.mtu
            except ValueError:
                continue
    qsfp = [ln.mtu for ln in links.links if ln.is_qsfp and ln.carrier and ln.mtu]
    return min(qsfp) if qsfp else None


def pairs(n: int) -> list[tuple[int, int]]:
    """(source, target) indexes to ping: all pairs up to 4 nodes, else a ring plus head <-> all."""
    if n <= ALL_TO_ALL_UP_TO:
        return [(i, j) for i in range(n) for j in range(n) if i != j]
    out = {(i, (i + 1) % n) for i in range(n)}
    out |= {(0, j) for j in range(1, n)} | {(j, 0) for j in range(1, n)}
    return sorted(out)


def early_pings(hosts: list[HostFacts]) -> dict[int, list[Probe]]:
    """{source index: ping probes} to the peers' inventory interconnect addresses at USUAL_MTU,
    to send with the source's probes (before anything is known about the ports)."""
    out: dict[int, list[Probe]] = {}
    if len(hosts) < 2:
        return out
    for i, j in pairs(len(hosts)):
        for addr in hosts[j].interconnect:
            out.setdefault(i, []).append(ping_probe(addr, USUAL_MTU))
    return out


def run_pings(cluster: ClusterFacts, runners: dict[int, Runner], timeout: float) -> list[PingResult]:
    hosts = cluster.hosts
    jobs = []
    for i, j in pairs(len(hosts)):
        src, dst = hosts[i], hosts[j]
        if not src.reachable or not dst.reachable or i not in runners:
            continue
        for addr in interconnect_addresses(dst):
            jobs.append((runners[i], src, dst, addr, mtu_towards(src, addr) or 9000))
    if not jobs:
        return []

    def result(job: tuple, res: Any) -> PingResult:
        _, src, dst, addr, mtu = job
        try:   # ping prints "local error: message too long" on stderr
            p = parse_ping(res.stdout + "\n" + res.stderr)
        except ValueError:
            reason = res.na.reason if res.na else f"ping printed no statistics (exit {res.rc})"
            return PingResult(src.host, dst.host, addr, mtu - 28, None, reason)
        return PingResult(src.host, dst.host, addr, mtu - 28, p.ok, "reply" if p.ok else (p.error or "no reply"))

    def send(group: list[tuple]) -> list[PingResult]:
        runner, src = group[0][0], group[0][1]
        probes = [ping_probe(j[3], j[4]) for j in group]
        got: list[Any] = [src.early_pings.get(p.argv) for p in probes]
        todo = [k for k, r in enumerate(got) if r is None]
        if todo:
            wait = min(timeout, 6.0)
            fresh: list[Any]
            try:
                fresh = run_all(runner, [probes[k] for k in todo], wait)
            except TransportError as exc:
                fresh = [one_line(str(exc))] * len(todo)
            for k, r in zip(todo, fresh, strict=False):
                got[k] = r
        return [result(j, r) if not isinstance(r, str) else
                PingResult(src.host, j[2].host, j[3], j[4] - 28, None, r) for j, r in zip(group, got, strict=False)]

    by_source: dict[int, list[tuple]] = {}
    for job in jobs:
        by_source.setdefault(id(job[1]), []).append(job)
    with ThreadPoolExecutor(max_workers=min(16, len(by_source))) as pool:
        return [p for rs in pool.map(send, by_source.values()) for p in rs]
