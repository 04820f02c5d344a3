"""A real vLLM engine (its CPU build) in a simulated node's Docker, started as on a Spark:
`docker run --network host --ipc host --gpus all -v ~/.cache/huggingface:... IMAGE vllm serve ...`.

    c = serve(node, "fixed-sentence")                 # one node; returns an Engine
    c.wait_ready(); c.chat("Hello") -> FIXED_SENTENCE
    head, worker = serve_pair(node0, node1, "tiny-random")   # native tensor parallel 2 (no Ray)
    c.stop()

Per node, as multi-node vLLM needs it: GLOO_SOCKET_IFNAME and VLLM_HOST_IP on the QSFP port
(enp1s0f1np1), its own VLLM_CPU_OMP_THREADS_BIND core, its own TMPDIR. The engine listens on all
of the node's addresses; the tests reach it on the management address.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from . import images, models

PORT = 8000
QSFP_PORT = "enp1s0f1np1"
SERVE_FLAGS = ["--enforce-eager", "--max-model-len", "512", "--max-num-seqs", "4", "--dtype", "float32"]


class EngineError(RuntimeError):
    pass


@dataclass
class Engine:
    node: object
    container: str
    model: str  # the served model name (its Hugging Face id)
    port: int = PORT
    headless: bool = False
    started: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"http://{self.node.mgmt_ip}:{self.port}"  # type: ignore[attr-defined]

    def docker(self):
        return self.node.docker  # type: ignore[attr-defined]

    def state(self) -> dict:
        out = self.docker().docker("inspect", "-f", "{{json .State}}", self.container, check=False)
        return json.loads(out.stdout) if out.returncode == 0 else {}

    def logs(self, tail: int = 40) -> str:
        out = self.docker().docker("logs", "--tail", str(tail), self.container, check=False)
        return (out.stdout + out.stderr).strip()

    def wait_ready(self, timeout: float = 300) -> float:
        """Seconds from `docker run` until /health answers 200; EngineError (with the log's tail)
        if the container exits first or the time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.headless:
                try:
                    with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                        if r.status == 200:
                            return time.monotonic() - self.started
                except (urllib.error.URLError, OSError):
                    pass
            st = self.state()
            if st and not st.get("Running"):
                raise EngineError(f"engine on {self.node.name} exited {st.get('ExitCode')}:\n{self.logs()}")  # type: ignore[attr-defined]
            if self.headless and st.get("Running"):
                return time.monotonic() - self.started
            if time.monotonic() > deadline:
                raise EngineError(f"engine on {self.node.name} not ready in {timeout:.0f} s:\n{self.logs()}")  # type: ignore[attr-defined]
            time.sleep(0.5)

    def chat(self, text: str, max_tokens: int = 24) -> str:
        body = {"model": self.model, "messages": [{"role": "user", "content": text}],
                "max_tokens": max_tokens, "temperature": 0}
        req = urllib.request.Request(self.url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())["choices"][0]["message"]["content"]

    def stop(self) -> None:
        self.docker().docker("rm", "-f", self.container, check=False)


def run_argv(node, model_name: str, *, name: str, cpu: str, extra_env: dict[str, str] | None = None,
             image: str = images.ENGINE_IMAGE) -> list[str]:
    """`docker run` options of an engine container on this node (the vllm argv follows)."""
    env = {"VLLM_CPU_OMP_THREADS_BIND": cpu, "GLOO_SOCKET_IFNAME": QSFP_PORT,
           "VLLM_HOST_IP": node.qsfp_ips[QSFP_PORT], "TMPDIR": f"/tmp/{name}"}
    env.update(extra_env or {})
    argv = ["run", "-d", "--name", name, "--network", "host", "--ipc", "host", "--gpus", "all",
            "-v", f"{models.hf_home(node)}:/root/.cache/huggingface"]
    for k, v in env.items():
        argv += ["-e", f"{k}={v}"]
    return [*argv, image]


def serve(node, model: str = "fixed-sentence", *, name: str = "vllm", port: int = PORT, cpu: str = "0",
          args: list[str] | None = None, place: bool = True) -> Engine:
    """Start `vllm serve` for a made model on a node (placing it in the node's cache first)."""
    if place:
        models.place(node, model)
    hf_id = models.MODELS[model]
    vllm = ["vllm", "serve", hf_id, "--host", "0.0.0.0", "--port", str(port), *SERVE_FLAGS, *(args or [])]
    out = node.docker.docker(*run_argv(node, hf_id, name=name, cpu=cpu), *vllm)
    return Engine(node=node, container=out.stdout.strip(), model=hf_id, port=port)


def serve_pair(head, worker, model: str = "tiny-random", *, port: int = PORT,
               master_port: int = 29501) -> tuple[Engine, Engine]:
    """Native multi-node tensor parallel 2 (mp executor, no Ray) over the QSFP cable."""
    addr = head.qsfp_ips[QSFP_PORT]
    common = ["--tensor-parallel-size", "2", "--nnodes", "2", "--master-addr", addr,
              "--master-port", str(master_port)]
    a = serve(head, model, name="vllm-tp0", port=port, cpu="0", args=[*common, "--node-rank", "0"])
    b = serve(worker, model, name="vllm-tp1", port=port, cpu="1",
              args=[*common, "--node-rank", "1", "--headless"])
    b.headless = True
    return a, b
