"""The simulated cluster: N DGX Sparks as network namespaces with real sshd (see cluster.py)."""

from .cluster import Cluster, Node, SimError, missing_requirements
from .node import PROFILES

__all__ = ["PROFILES", "Cluster", "Node", "SimError", "missing_requirements"]
