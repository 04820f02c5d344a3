"""How the nodes of a deployment start (CONTRACTS.md "Executors").

- single: one container.
- native: vLLM's own multi-node mode: the head (--node-rank 0, --master-addr) and every worker
  (--headless); the head first, then the workers, which connect to --master-addr.
- ray: the head container starts Ray and then vLLM; each worker joins Ray (`ray start --block`);
  up waits until every node's GPU is in the cluster (asked of the head's GCS in its container, from
  the head's "Ray runtime started" on: RayFormation).
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


# The live nodes' GPUs straight from the head's GCS, through Ray's own GcsClient as `ray status`
# connects (ray/scripts/scripts.py). `ray status` prints the autoscaler monitor's summary, which it
# refreshes every 5 s (AUTOSCALER_UPDATE_INTERVAL_S): a node that joined shows up to 5 s late, and the
# CLI costs ~2 s of CPU. Ray internals: exit 3 when this Ray lacks them (then `ray status`).
GCS_GPUS_PY = """\
try:
    from ray._private.services import canonicalize_bootstrap_address_or_die as address
    from ray._raylet import GcsClient
    from ray.core.generated.gcs_pb2 import GcsNodeInfo
except ImportError:
    raise SystemExit(3)
nodes = GcsClient(address=address(None)).get_all_node_info(timeout=10).values()
alive = [n for n in nodes if n.state == GcsNodeInfo.ALIVE]
print("GCS GPU total:", sum(n.resources_total.get("GPU", 0) for n in alive), "nodes:", len(alive))
"""
_GCS_RE = re.compile(r"GCS GPU total: ([\d.]+)")


def gcs_gpus(runner: Runner, container: str) -> tuple[float | None, bool]:
    """(GPUs of the cluster's live nodes, whether this image's Ray has what the question needs)."""
    res = runner.run(["docker", "exec", container, "python3", "-c", GCS_GPUS_PY], timeout=30.0)
    m = _GCS_RE.search(res.stdout) if res.rc == 0 else None
    return (float(m[1]) if m else None), res.rc != 3 and (res.rc == 0) == bool(m)


def cluster_gpus(runner: Runner, container: str, gcs: list[bool]) -> float | None:
    """The cluster's GPUs: from the GCS while that works here (gcs[0]), else `ray status`."""
    if gcs[0]:
        gpus, ok = gcs_gpus(runner, container)
        if ok:
            return gpus
        gcs[0] = False
    return ray_status(runner, container)


RAY_STARTED = "Ray runtime started"     # `ray start` (head and workers) once its raylet is in the cluster


class RayFormation:
    """When every node's GPU is in the deployment's Ray cluster, without holding up the watch loop.

    The question (cluster_gpus: the head's GCS, else `ray status`; a Python start in the head
    container, ~1-2 s of CPU, seconds more on a loaded node) is asked in a background thread, and
    only when it can answer yes soon, since each one takes CPU from the Ray processes still
    starting: once the head's log says "Ray runtime started" (its GCS is up), one question at a
    time, RETRY_S apart; at once when the last node's log says so (even with a question out, which
    may have been asked before that node joined); every FALLBACK_S from the start for an image whose
    `ray start` words differ.

        f = RayFormation(head_runner, container, ["head", "worker"])   # the head first
        f.line("worker", text)     # each log line
        gpus = f.poll()            # the cluster's GPUs the first time they cover every node, else None
    """

    RETRY_S = 1.0
    FALLBACK_S = 15.0

    def __init__(self, runner: Runner, container: str, nodes: list[str],
                 clock: Callable[[], float] = time.monotonic,
                 status: Callable[[Runner, str], float | None] | None = None):
        self.runner, self.container, self.nodes = runner, container, set(nodes)
        self.head = nodes[0]
        self.clock = clock
        self._gcs = [True]
        self.status = status or (lambda r, c: cluster_gpus(r, c, self._gcs))
        self.started: set[str] = set()
        self.formed = False
        self.asked = 0
        self._best: float | None = None
        self._out = 0                  # questions not answered yet
        self._all_asked = False        # the question asked when the last node said it started
        self._threads: list[threading.Thread] = []
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
            gpus, out = self._best, self._out
        if gpus is not None and gpus >= len(self.nodes):
            self.formed = True
            return gpus
        now = self.clock()
        if self.started >= self.nodes and not self._all_asked:
            self._all_asked = True
            self._ask_now(now)
        elif out == 0 and ((self.head in self.started and now >= self._next) or now >= self._fallback):
            self._ask_now(now)
        return None

    def settle(self, timeout: float, sleep: Callable[[float], None] = time.sleep) -> float | None:
        """At /health, while formation was not yet seen: ask until every node's GPU is in, or timeout
        (vLLM on Ray cannot be ready without them, so on a real start this is one question). The
        GPUs once formed; None when the time ran out (the last count stays in `short`)."""
        end = self.clock() + timeout
        while True:
            with self._lock:
                out = self._out
            if out == 0:
                self._ask_now(self.clock())
            gpus = self.poll()
            if gpus is not None:
                return gpus
            if self.formed or self.clock() >= end:
                return None
            sleep(0.25)

    @property
    def short(self) -> float | None:
        """The most GPUs any question saw (when formation was not reached)."""
        with self._lock:
            return self._best

    def _ask_now(self, now: float) -> None:
        self._next, self._fallback = now + self.RETRY_S, now + self.FALLBACK_S
        self.asked += 1
        with self._lock:
            self._out += 1
        t = threading.Thread(target=self._ask, name="ray-status", daemon=True)
        self._threads.append(t)
        t.start()

    def _ask(self) -> None:
        try:
            gpus = self.status(self.runner, self.container)
        except (TransportError, OSError):   # a lost node shows in the watch's container states
            gpus = None
        with self._lock:
            self._out -= 1
            if gpus is not None and (self._best is None or gpus > self._best):
                self._best = gpus

    def join(self, timeout: float = 5.0) -> None:
        """Wait for the questions out (tests)."""
        for t in self._threads:
            t.join(timeout)
