"""pytest fixtures for the simulated cluster (imported by tests/integration/conftest.py).

    sim_cluster  session scope: SESSION_PROFILES, one node per planted fault (16 nodes)
    sim_factory  function scope: start(profiles) -> Cluster, stopped after the test

    sim_engine         session scope: one node with a real vLLM engine (README "Engines")
    sim_engine_pair    session scope: two nodes with a native tensor-parallel-2 engine
    sim_docker_factory function scope: start(profiles) -> Cluster with a dockerd per node

All skip with the reason when the machine cannot run the cluster (not root, no sshd, no ip,
no docker). SPARKPILOT_SIM_DELAY_SCALE scales the stand-in tools' realistic delays (default 1).
The docker ones assert at teardown that nothing of their cluster is left (leftovers()).
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import pytest

from .cluster import Cluster, missing_requirements
from .dockerd import leftovers, missing_docker, netns_ids
from .engine import Engine, serve, serve_pair

ENGINE_TIMEOUT = 600  # a first start on a loaded 2-core machine; ~30 s when quiet

# pairs on the QSFP cable: (0,1) (2,3) ...; node index -> profile
SESSION_PROFILES = [
    "healthy", "healthy",            # 0-1 a healthy pair
    "healthy", "mtu-1500",           # 2-3 enP2p1s0f1np1 at MTU 1500 on node 3
    "driver-590", "gid-4",           # 4-5 driver drifted to 590 on 4; RoCEv2 IPv4 at GID index 4 on 5
    "netplan-networkd", "warm-cache",  # 6-7 netplan networkd without systemd-networkd; page cache
    "hot-gpu", "unreachable",        # 8-9 GPU hot and throttling; a host that is off
    "healthy", "healthy", "healthy", "healthy", "healthy", "healthy",
]


def _skip_unless_possible() -> None:
    why = missing_requirements()
    if why:
        pytest.skip(why)


@pytest.fixture(scope="session")
def sim_cluster():
    _skip_unless_possible()
    cluster = Cluster.start(SESSION_PROFILES)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def sim_factory():
    _skip_unless_possible()
    started: list[Cluster] = []

    def start(profiles: list[str], **kw) -> Cluster:
        cluster = Cluster.start(profiles, **kw)
        started.append(cluster)
        return cluster

    try:
        yield start
    finally:
        for cluster in started:
            cluster.stop()


# -- real vLLM engines (docker per node; images.py builds the image once per machine) ---------

@dataclass
class RunningEngine:
    """A cluster whose engine is up: `engines[0]` answers on `url` (`engines[1]` is the headless
    rank of a pair). `ready_s`: seconds from `docker run` until /health answered."""
    cluster: Cluster
    engines: list[Engine]
    ready_s: float

    @property
    def node(self):
        return self.cluster.nodes[0]

    @property
    def url(self) -> str:
        return self.engines[0].url

    @property
    def model(self) -> str:
        return self.engines[0].model


def _skip_unless_docker() -> None:
    _skip_unless_possible()
    why = missing_docker()
    if why:
        pytest.skip(why)


@contextmanager
def checked_cluster(profiles: list[str], **kw):
    """A cluster with docker that is torn down afterwards, and asserted gone: no container,
    dockerd, engine or Ray process, namespace or cgroup of it is left."""
    cluster = Cluster.start(profiles, docker=True, **kw)
    try:
        yield cluster
    finally:
        namespaces = netns_ids(cluster.slot)
        cluster.stop()
        left = leftovers(cluster.slot, cluster.dir, namespaces)
        assert not left, f"simulated cluster slot {cluster.slot} left behind: {left}"


def _engine_fixture(pair: bool):
    _skip_unless_docker()
    with checked_cluster(["healthy", "healthy"] if pair else ["healthy"], fabric="cable") as cluster:
        if pair:
            engines = list(serve_pair(cluster.nodes[0], cluster.nodes[1], "fixed-sentence"))
            engines[1].wait_ready()
        else:
            engines = [serve(cluster.nodes[0], "fixed-sentence")]
        ready = engines[0].wait_ready(timeout=ENGINE_TIMEOUT)
        yield RunningEngine(cluster, engines, ready)


@pytest.fixture(scope="session")
def sim_engine():
    """One node serving `fixed-sentence` (greedy answer: models.FIXED_SENTENCE) on port 8000."""
    yield from _engine_fixture(pair=False)


@pytest.fixture(scope="session")
def sim_engine_pair():
    """Two cabled nodes serving `fixed-sentence` with native tensor parallel 2 (rank 0 on node 0
    answers on port 8000, rank 1 on node 1 is headless)."""
    yield from _engine_fixture(pair=True)


@pytest.fixture
def sim_docker_factory():
    """start(profiles, **kw) -> Cluster with a real dockerd per node and the images (no engine
    running); torn down after the test and asserted gone."""
    _skip_unless_docker()
    stack = ExitStack()

    def start(profiles: list[str], **kw) -> Cluster:
        return stack.enter_context(checked_cluster(profiles, **kw))

    with stack:
        yield start
