"""A plan `sparkpilot up` runs on the simulated cluster's replay image (its `vllm` replays a real
GB10 start's log with its real timing x SPARKPILOT_TIME_SCALE; real Ray inside).

    path, host_args = replay_plan(cluster, cluster.nodes, "ready-pair-head", tmp, executor="ray", gpus=True)

The plan is what `sparkpilot plan` writes for the nodes (tiny-random placed on every node), with
the image set to the scenario's replay tag and SPARKPILOT_TIME_SCALE passed into the container.
`--ulimit memlock=-1` and `/dev/infiniband`, which runc cannot set / this machine has not, are
dropped; with gpus, `ray start` gets `--num-gpus 1`, standing in for the GB10 Ray would detect
(tests/sim/ray.py). Used by tests/integration/test_up_replay_sim.py and bench/ray_formation.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from . import images, models


def _sparkpilot(cluster, *args: str, scale: str) -> subprocess.CompletedProcess:
    env = {**cluster.env(), "XDG_STATE_HOME": str(cluster.dir) + "/state", "SPARKPILOT_TIME_SCALE": scale}
    return subprocess.run([sys.executable, "-m", "sparkpilot", *args], capture_output=True, text=True,
                          env=env, timeout=600, check=False)


def replay_plan(cluster, nodes, scenario: str, out_dir: Path, executor: str | None = None, gpus: bool = False,
                scale: str = "0.02") -> tuple[Path, list[str]]:
    """Write `<out_dir>/<scenario>.json`; (its path, ["--host", SPEC, ...])."""
    snap = models.place(nodes[0], "tiny-random")
    for n in nodes[1:]:
        models.place(n, "tiny-random")
    hosts = [a for n in nodes for a in ("--host", n.ssh_spec)]
    out = Path(out_dir) / f"{scenario}.json"
    extra = ["--executor", executor] if executor else []
    res = _sparkpilot(cluster, "plan", snap, *hosts, *extra, "--image", f"{images.REPLAY_IMAGE}:{scenario}",
                      "--output", str(out), "--format", "json", scale=scale)
    if not out.exists():
        raise RuntimeError(f"sparkpilot plan wrote no plan: {res.stderr.strip()[-500:]}")
    plan = json.loads(out.read_text())
    for node in plan["launch"]["nodes"]:
        run = node["docker_run"]
        at = run.index(plan["launch"]["image"])
        opts, i = [], 0
        while i < at:   # runc under this machine's dockerd cannot set memlock; no /dev/infiniband here
            if run[i] in ("--device", "--ulimit") and run[i + 1] in ("/dev/infiniband", "memlock=-1"):
                i += 2
                continue
            opts.append(run[i])
            i += 1
        cmd = run[at + 1:]
        if gpus:
            cmd = [c.replace("ray start ", "ray start --num-gpus 1 ") for c in cmd]
        node["docker_run"] = [*opts, "-e", f"SPARKPILOT_TIME_SCALE={scale}", run[at], *cmd]
    out.write_text(json.dumps(plan))
    return out, hosts
