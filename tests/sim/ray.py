"""A real Ray cluster across simulated nodes, as a Spark pair runs it: one container per node
(`--network host --ipc host --gpus all`), `ray start --head --node-ip-address A --num-gpus 1` on
the head, `ray start --address A:6379 --num-gpus 1` on each worker, addresses on the QSFP port.
`--num-gpus 1` stands in for the GB10. vLLM's CPU platform refuses the Ray executor, so the engine
of a Ray deployment here is the replay image's (its tags replay a real GB10 start).

    ray = start_ray(cluster.nodes[:2])      # image: the replay image (real Ray 2.60 inside)
    ray.status() -> {"nodes": 2, "gpus": 2.0}
    ray.serve("ready-pair-head")            # the replayed `vllm serve` in the head container
    ray.stop()                              # `ray stop` in each node, then the containers
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from . import images
from .engine import PORT, QSFP_PORT, Engine, EngineError

RAY_PORT = 6379
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_memory_monitor_refresh_ms": "0"}
STATUS_PY = ("import json, ray; ray.init(address='auto', logging_level='ERROR'); "
             "n = [x for x in ray.nodes() if x['Alive']]; "
             "print(json.dumps({'nodes': len(n), 'gpus': ray.cluster_resources().get('GPU', 0), "
             "'ips': sorted(x['NodeManagerAddress'] for x in n)}))")


@dataclass
class RayCluster:
    nodes: list
    image: str
    container: str = "ray-node"

    @property
    def head(self):
        return self.nodes[0]

    @property
    def address(self) -> str:
        return f"{self.head.qsfp_ips[QSFP_PORT]}:{RAY_PORT}"

    def status(self) -> dict:
        out = self.head.docker.docker("exec", self.container, "python3", "-c", STATUS_PY, check=False, timeout=120)
        if out.returncode != 0:
            return {}
        return json.loads(out.stdout.strip().splitlines()[-1])

    def wait(self, timeout: float = 180) -> float:
        """Seconds until every node has joined (with its GPU); EngineError when time runs out."""
        t0 = time.monotonic()
        want = len(self.nodes)
        while True:
            st = self.status()
            if st.get("nodes") == want and st.get("gpus") == float(want):
                return time.monotonic() - t0
            for node in self.nodes:
                state = node.docker.docker("inspect", "-f", "{{.State.Running}}", self.container, check=False)
                if state.stdout.strip() != "true":
                    logs = node.docker.docker("logs", "--tail", "30", self.container, check=False)
                    raise EngineError(f"ray on {node.name} stopped:\n{logs.stdout}{logs.stderr}")
            if time.monotonic() - t0 > timeout:
                raise EngineError(f"ray cluster not formed in {timeout:.0f} s: {st}")
            time.sleep(1)

    def serve(self, scenario: str, *, port: int = PORT, args: list[str] | None = None,
              env: dict[str, str] | None = None) -> Engine:
        """`vllm serve ... --distributed-executor-backend ray` in the head container: the replay
        engine of `scenario` (replay.SCENARIOS or a log id)."""
        envs = []
        for k, v in {"SPARKPILOT_REPLAY": scenario, **(env or {})}.items():
            envs += ["-e", f"{k}={v}"]
        argv = ["vllm", "serve", "model", "--port", str(port), "--tensor-parallel-size", str(len(self.nodes)),
                "--distributed-executor-backend", "ray", *(args or [])]
        self.head.docker.docker("exec", "-d", *envs, self.container, *argv)
        return Engine(node=self.head, container=self.container, model="model", port=port)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.docker.docker("exec", self.container, "ray", "stop", "--force", check=False, timeout=60)
            node.docker.docker("rm", "-f", self.container, check=False)


def start_ray(nodes: list, image: str | None = None, object_store_mb: int = 128) -> RayCluster:
    image = image or f"{images.REPLAY_IMAGE}:latest"
    ray = RayCluster(nodes=list(nodes), image=image)
    for i, node in enumerate(ray.nodes):
        ip = node.qsfp_ips[QSFP_PORT]
        env = {**RAY_ENV, "VLLM_HOST_IP": ip, "GLOO_SOCKET_IFNAME": QSFP_PORT, "NCCL_SOCKET_IFNAME": QSFP_PORT}
        argv = ["run", "-d", "--name", ray.container, "--network", "host", "--ipc", "host", "--gpus", "all",
                "-v", f"{node.hf_home}:/root/.cache/huggingface"]
        for k, v in env.items():
            argv += ["-e", f"{k}={v}"]
        start = ["ray", "start", "--block", "--num-gpus", "1", "--node-ip-address", ip,
                 "--object-store-memory", str(object_store_mb * 2**20), "--disable-usage-stats"]
        if i == 0:
            start += ["--head", "--port", str(RAY_PORT), "--include-dashboard=false"]
        else:
            start += ["--address", ray.address]
        node.docker.docker(*argv, "--entrypoint", start[0], image, *start[1:])
    return ray
