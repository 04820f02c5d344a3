"""How the nodes of a deployment start (CONTRACTS.md "Executors").

- single: one container.
- native: vLLM's own multi-node mode: the head (--node-rank 0, --master-addr) and every worker
  (--headless); the head first, then the workers, which connect to --master-addr.
- ray: the head container starts Ray and then vLLM; each worker joins Ray (`ray start --block`);
  up waits until every node's GPU is in the cluster (`ray status` in the head container, asked as
  soon as every node's log says its Ray runtime started: RayFormation).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from sparkpilot.errors import TransportError
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


RAY_STARTED = "Ray runtime started"     # `ray start` (head and workers) once its raylet is in the cluster


class RayFormation:
    """When every node's GPU is in the deployment's Ray cluster, without holding up the watch loop.

    `ray status` (a Python start of Ray's CLI in the head container) costs 1-3 s on an idle node and
    over 10 s on a loaded one, so it is asked in a background thread, one question at a time, and
    only once it can answer: from the head's "Ray runtime started" on (its GCS is up), every RETRY_S
    until every node's GPU is in (a worker's raylet is counted before its own `ray start` prints
    that line), and every FALLBACK_S from the start for an image whose `ray start` words differ.

        f = RayFormation(head_runner, container, ["head", "worker"])   # the head first
        f.line("worker", text)     # each log line
        gpus = f.poll()            # the cluster's GPUs the first time they cover every node, else None
    """

    RETRY_S = 1.0
    FALLBACK_S = 6.0

    def __init__(self, runner: Runner, container: str, nodes: list[str],
                 clock: Callable[[], float] = time.monotonic,
                 status: Callable[[Runner, str], float | None] | None = None):
        self.runner, self.container, self.nodes = runner, container, set(nodes)
        self.head = nodes[0]
        self.clock = clock
        self.status = status or ray_status
        self.started: set[str] = set()
        self.formed = False
        self.asked = 0
        self._result: float | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._next = clock()
        self._fallback = clock() + self.FALLBACK_S

    def line(self, node: str, text: str) -> None:
        if RAY_STARTED in text:
            self.started.add(node)

    def poll(self) -> float | None:
        if self.formed:
            return None
        with self._lock:
            gpus, self._result = self._result, None
        if gpus is not None and gpus >= len(self.nodes):
            self.formed = True
            return gpus
        if self._thread is not None and self._thread.is_alive():
            return None
        now = self.clock()
        if (self.head in self.started and now >= self._next) or now >= self._fallback:
            self._next, self._fallback = now + self.RETRY_S, now + self.FALLBACK_S
            self.asked += 1
            self._thread = threading.Thread(target=self._ask, name="ray-status", daemon=True)
            self._thread.start()
        return None

    def _ask(self) -> None:
        try:
            gpus = self.status(self.runner, self.container)
        except (TransportError, OSError):   # a lost node shows in the watch's container states
            gpus = None
        with self._lock:
            self._result = gpus
