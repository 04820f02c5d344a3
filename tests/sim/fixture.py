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


class _Start:
    """An engine cluster started and its `docker run`s done, not yet waited for: the single engine
    and the pair start side by side when a session needs both (their starts overlap instead of
    adding up), and the fixture that needs one claims it."""

    def __init__(self, pair: bool) -> None:
        self.pair = pair
        self.stack = ExitStack()
        self.error: BaseException | None = None
        try:
            cluster = self.stack.enter_context(
                checked_cluster(["healthy", "healthy"] if pair else ["healthy"], fabric="cable"))
            self.cluster = cluster
            if pair:
                self.engines = list(serve_pair(cluster.nodes[0], cluster.nodes[1], "fixed-sentence"))
            else:
                self.engines = [serve(cluster.nodes[0], "fixed-sentence", cpu="1")]
        except Exception as exc:  # noqa: BLE001 - raised by the fixture that claims it, after the clean-up
            self.error = exc
            self.stack.close()
        except BaseException:
            self.stack.close()
            raise

    def wait(self) -> RunningEngine:
        if self.error is not None:
            raise self.error
        if self.pair:
            self.engines[1].wait_ready()
        return RunningEngine(self.cluster, self.engines, self.engines[0].wait_ready(timeout=ENGINE_TIMEOUT))


_UNCLAIMED: dict[bool, _Start] = {}  # pair? -> started alongside the other, not claimed yet
_LAUNCHED: set[bool] = set()


def _wanted(request, pair: bool) -> bool:
    name = "sim_engine_pair" if pair else "sim_engine"
    return any(name in getattr(item, "fixturenames", ()) for item in request.session.items)


def _launch_unclaimed(request, pair: bool) -> None:
    """Start it now, for the fixture that will need it (stopped at the end of the session if none does)."""
    if pair in _LAUNCHED or not _wanted(request, pair):
        return
    _LAUNCHED.add(pair)
    _UNCLAIMED[pair] = _Start(pair)

    def stop_unclaimed() -> None:
        left = _UNCLAIMED.pop(pair, None)
        if left is not None:
            left.stack.close()

    request.addfinalizer(stop_unclaimed)


def _engine_fixture(request, pair: bool):
    _skip_unless_docker()
    start = _UNCLAIMED.pop(pair, None)
    if start is None:
        _LAUNCHED.add(pair)
        start = _Start(pair)
    _launch_unclaimed(request, not pair)
    with start.stack:
        yield start.wait()


@pytest.fixture(scope="session", autouse=True)
def sim_engines_early(request):
    """At the session's start, the engines its tests will need (when this machine can run them):
    their starts overlap the tests that come before the first one needing an engine."""
    if not (missing_requirements() or missing_docker()):
        for pair in (False, True):
            _launch_unclaimed(request, pair)
    yield


@pytest.fixture(scope="session")
def sim_engine(request):
    """One node serving `fixed-sentence` (greedy answer: models.FIXED_SENTENCE) on port 8000."""
    yield from _engine_fixture(request, pair=False)


@pytest.fixture(scope="session")
def sim_engine_pair(request):
    """Two cabled nodes serving `fixed-sentence` with native tensor parallel 2 (rank 0 on node 0
    answers on port 8000, rank 1 on node 1 is headless). Started side by side with `sim_engine`
    when the session needs both."""
    yield from _engine_fixture(request, pair=True)


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
