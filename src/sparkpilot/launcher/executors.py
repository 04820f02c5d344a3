"""How the nodes of a deployment start (CONTRACTS.md "Executors").

- single: one container.
- native: vLLM's own multi-node mode: the head (--node-rank 0, --master-addr) and every worker
  (--headless); the head first, then the workers, which connect to --master-addr.
- ray: the head container starts Ray and then vLLM; each worker joins Ray (`ray start --block`);
  up waits until every node's GPU is in the cluster (`ray status` in the head container).
"""

from __future__ import annotations

import re
from typing import Any

from sparkpilot.transport.base import Runner

WHY = {
    "single": "one node: no Ray, no multi-node executor",
    "native": "vLLM's own multi-node mode (--nnodes/--node-rank/--master-addr, workers --headless): "
              "no Ray cluster to form, what community launchers now default to",
    "ray": "Ray: the head starts a Ray cluster the workers join; vLLM runs its ranks as Ray actors "
           "(RAY_memory_monitor_refresh_ms=0 so Ray's memory monitor leaves unified memory alone)",
}


def why(executor: str, plan: dict[str, Any]) -> str:
    reason = plan.get("executor_reason") or plan.get("executor_why")
    return str(reason) if reason else WHY.get(executor, executor)


_GPU_RE = re.compile(r"([\d.]+)\s*/\s*([\d.]+)\s+GPU\b")


def ray_gpus(status_text: str) -> float | None:
    """Total GPUs in the cluster from `ray status` ("0.0/2.0 GPU"); None when not shown."""
    m = _GPU_RE.search(status_text)
    return float(m[2]) if m else None


def ray_status(runner: Runner, container: str) -> float | None:
    res = runner.run(["docker", "exec", container, "ray", "status"], timeout=30.0)
    return ray_gpus(res.stdout) if res.rc == 0 else None
