"""pytest fixtures for the simulated cluster (imported by tests/integration/conftest.py).

    sim_cluster  session scope: SESSION_PROFILES, one node per planted fault (16 nodes)
    sim_factory  function scope: start(profiles) -> Cluster, stopped after the test

Both skip with the reason when the machine cannot run the cluster (not root, no sshd, no ip).
SPARKPILOT_SIM_DELAY_SCALE scales the stand-in tools' realistic delays (default 1).
"""

from __future__ import annotations

import pytest

from .cluster import Cluster, missing_requirements

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
