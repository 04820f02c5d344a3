"""Integration tests: the simulated cluster (tests/sim) with real sshd, real namespaces, and (the
docker fixtures) a real dockerd per node, a real vLLM engine, real Ray."""

from sim.fixture import (  # noqa: F401
    SESSION_PROFILES,
    sim_cluster,
    sim_docker_factory,
    sim_engine,
    sim_engine_pair,
    sim_engines_early,
    sim_factory,
)
