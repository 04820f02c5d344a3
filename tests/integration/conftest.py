"""Integration tests: the simulated cluster (tests/sim) with real sshd, real namespaces."""

from sim.fixture import SESSION_PROFILES, sim_cluster, sim_factory  # noqa: F401
