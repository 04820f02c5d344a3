"""A plan `sparkpilot up` can run on the simulated cluster's real vLLM (its CPU build).

    path, host_args = cpu_plan(cluster, cluster.nodes[:1], out=tmp / "plan.json")

The plan comes from `sparkpilot plan` on the node's model folder (the model placed on every node;
with hub_id, on the first only, and the plan in the form `plan ORG/NAME` writes: the Hub id, each
node's own Hugging Face cache). Its vLLM flags for a GB10 (graph capture size, TRITON_ATTN, fp8 KV
cache, 0.87 of a GPU) are swapped for the flags the CPU build accepts (engine.SERVE_FLAGS) and the
CPU build's per-node environment; `--ulimit memlock=-1` and `/dev/infiniband`, which runc cannot
set / this machine has not, are dropped. That is the only change, and it is the simulated
engine's, not up's. Used by tests/integration/test_up_*.py and bench/up_overhead.py --sim.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from . import engine, images, models

_MULTI = ("--nnodes", "--node-rank", "--master-addr", "--master-port", "--distributed-executor-backend")


def sparkpilot(cluster, *args: str, timeout: float = 600, env: dict[str, str] | None = None):
    """`python -m sparkpilot ARGS` against the cluster (its ssh config; state in the cluster's dir)."""
    env = {**cluster.env(), "XDG_STATE_HOME": str(cluster.dir) + "/state", **(env or {})}
    return subprocess.run([sys.executable, "-m", "sparkpilot", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)


def cpu_plan(cluster, nodes, out: Path, model: str = "fixed-sentence", executor: str | None = None,
             hub_id: bool = False) -> tuple[Path, list[str]]:
    """Write the plan for the nodes to `out`; (out, ["--host", SPEC, ...])."""
    snaps = [models.place(n, model) for n in (nodes[:1] if hub_id else nodes)]
    hosts = [a for n in nodes for a in ("--host", n.ssh_spec)]
    extra = ["--executor", executor] if executor else []
    res = sparkpilot(cluster, "plan", snaps[0], *hosts, *extra, "--image", images.ENGINE_IMAGE,
                     "--output", str(out), "--format", "json")
    if not out.exists():
        raise RuntimeError(f"sparkpilot plan wrote no plan: {res.stderr.strip()[-500:]}")
    plan = json.loads(out.read_text())
    if hub_id:
        repo = models.MODELS[model]
        plan["model"] = repo
        for node in plan["launch"]["nodes"]:
            node["mounts"] = [m for m in node["mounts"] if ":/models/" not in m]
            local = next(a for a in node["argv"] if a.startswith("/models/"))
            node["argv"] = [repo if a == local else a for a in node["argv"]]
            node["docker_run"] = [repo if a == local else a for a in node["docker_run"]]
            for i, a in enumerate(list(node["docker_run"])):
                if a == "-v" and ":/models/" in node["docker_run"][i + 1]:
                    del node["docker_run"][i:i + 2]
                    break
    for rank, node in enumerate(plan["launch"]["nodes"]):
        argv = node["argv"]
        keep = argv[:argv.index("--max-model-len")]
        tail = [a for i, a in enumerate(argv) if a in _MULTI or (i and argv[i - 1] in _MULTI) or a == "--headless"]
        node["argv"] = keep + list(engine.SERVE_FLAGS) + tail
        run = node["docker_run"]
        at = run.index(plan["launch"]["image"])
        env = ["-e", f"VLLM_CPU_OMP_THREADS_BIND={rank}", "-e", f"TMPDIR=/tmp/rank{rank}"]
        opts, i = [], 0
        while i < at:   # this machine cannot raise memlock for the sim's dockerd (runc: operation not permitted)
            if run[i] in ("--device", "--ulimit") and run[i + 1] in ("/dev/infiniband", "memlock=-1"):
                i += 2
                continue
            opts.append(run[i])
            i += 1
        node["docker_run"] = opts + env + [run[at]] + node["argv"]
    out.write_text(json.dumps(plan))
    return out, hosts
