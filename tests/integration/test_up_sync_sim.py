"""up's model sync between simulated nodes over real sshd: a node without the model gets it from
one that has it (relayed through this machine: the nodes do not trust each other's keys), and a
partial download with no complete copy anywhere refuses the launch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sparkpilot.launcher.deployment import Deployment
from sparkpilot.launcher.events import LaunchFailed
from sparkpilot.launcher.sync import Sync

pytestmark = pytest.mark.slow
MODEL = "sparkpilot-test/two-shards"


def pair_plan(nodes) -> dict:
    nodes_out = []
    for rank, node in enumerate(nodes):
        ip = next(iter(node.qsfp_ips.values()))
        argv = ["vllm", "serve", MODEL, "--port", "8000", "--tensor-parallel-size", "2", "--nnodes", "2",
                "--node-rank", str(rank), "--master-addr", next(iter(nodes[0].qsfp_ips.values()))]
        run = ["docker", "run", "-d", "--network", "host", "-v", "$HOME/.cache/huggingface:/root/.cache/huggingface",
               "-e", f"VLLM_HOST_IP={ip}", "img:1", *argv]
        nodes_out.append({"name": f"spark-{rank + 1}", "role": "head" if rank == 0 else "worker", "argv": argv,
                          "env": {"VLLM_HOST_IP": ip}, "mounts": ["$HOME/.cache/huggingface:/root/.cache/huggingface"],
                          "docker_run": run})
    return {"model": MODEL, "fits": True, "launch": {"image": "img:1", "executor": "native", "nodes": nodes_out}}


def put_model(node, cut: bool = False) -> Path:
    snap = Path(node.dir, "home", ".cache", "huggingface", "hub", "models--" + MODEL.replace("/", "--"),
                "snapshots", "1" * 40)
    snap.mkdir(parents=True)
    (snap / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    shards = {"model-00001-of-00002.safetensors": 300_000, "model-00002-of-00002.safetensors": 200_000}
    for name, size in shards.items():
        (snap / name).write_bytes(os.urandom(size // 3 if cut and name.startswith("model-00002") else size))
    index = {"metadata": {"total_size": sum(shards.values()) - 2 * 1000},
             "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (snap / "model.safetensors.index.json").write_text(json.dumps(index))
    return snap


def runners(cluster, monkeypatch):
    from sparkpilot.transport import connect

    monkeypatch.setenv("SPARKPILOT_SSH_CONFIG", cluster.ssh_config)
    return {i: connect(n.ssh_spec) for i, n in enumerate(cluster.nodes)}


def test_missing_model_is_relayed_from_the_node_that_has_it(sim_factory, monkeypatch):
    cluster = sim_factory(["healthy", "healthy"])
    src = put_model(cluster.nodes[0])
    rs = runners(cluster, monkeypatch)
    try:
        dep = Deployment.from_plan(pair_plan(cluster.nodes), [n.ssh_spec for n in cluster.nodes], name="sync")
        events = list(Sync(dep, rs).run())
    finally:
        for r in rs.values():
            r.close()
    text = "\n".join(f"{e.node}: {e.message}" for e in events)
    assert "spark-2: model missing" in text and "spark-1: model complete" in text, text
    assert "relayed through this machine" in text and "cannot ssh" in text, text
    dst = Path(cluster.nodes[1].dir, *src.parts[len(Path(cluster.nodes[0].dir).parts):])
    for f in src.iterdir():
        assert (dst / f.name).read_bytes() == f.read_bytes()


def test_partial_download_and_no_complete_copy_is_refused(sim_factory, monkeypatch):
    cluster = sim_factory(["healthy", "healthy"])
    put_model(cluster.nodes[0], cut=True)
    rs = runners(cluster, monkeypatch)
    try:
        dep = Deployment.from_plan(pair_plan(cluster.nodes), [n.ssh_spec for n in cluster.nodes], name="sync")
        with pytest.raises(LaunchFailed, match=r"spark-1 is incomplete \(shards hold 366,666 bytes.*cut short"):
            list(Sync(dep, rs).run())
    finally:
        for r in rs.values():
            r.close()
