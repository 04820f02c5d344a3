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


def trust(src, dst) -> tuple[Path, str]:
    """Let node `src` ssh to `dst`'s QSFP address by itself, as two Sparks set up for each other:
    a key of src's own that dst authorizes, and an sshd on dst's QSFP address (the sim's listens on
    the management address only). The ssh client reads ~/.ssh from the passwd home (this machine's
    /root, shared by every simulated node), so src's own ~/.ssh/config is given with -F by an `ssh`
    first on src's PATH. Returns (src's known_hosts, dst's QSFP address): empty until filled."""
    import subprocess

    from sim.cluster import SSHD  # type: ignore[import-not-found]

    ip = dst.qsfp_ips["enp1s0f1np1"]
    ssh_dir = Path(src.dir, "home", ".ssh")
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    key = ssh_dir / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", src.name, "-f", str(key)], check=True)
    known = ssh_dir / "known_hosts"
    known.write_text("")
    (ssh_dir / "config").write_text(f"Host *\n  IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n"
                                    "  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n")
    wrapper = Path(src.dir, "bin", "ssh")
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {ssh_dir}/config "$@"\n')
    wrapper.chmod(0o755)
    with open(Path(dst.dir, "authorized_keys"), "a") as fh:
        fh.write(Path(str(key) + ".pub").read_text())
    cfg = Path(dst.dir, "sshd_config").read_text().replace(f"ListenAddress {dst.mgmt_ip}", f"ListenAddress {ip}")
    cfg = cfg.replace("sshd.pid", "sshd-qsfp.pid")
    Path(dst.dir, "sshd_config_qsfp").write_text(cfg)
    subprocess.run(["ip", "netns", "exec", dst.netns, SSHD, "-f", str(Path(dst.dir, "sshd_config_qsfp")),
                    "-E", str(Path(dst.dir, "sshd-qsfp.log"))], check=True)
    return known, ip


def test_model_goes_node_to_node_when_the_source_trusts_the_target(sim_factory, monkeypatch):
    """spark-1 has a key spark-2 authorizes: while spark-1 does not know spark-2's host key over the
    interconnect, it cannot ssh there by itself (host keys are checked) and the copy is relayed; once
    it does, the model goes node to node over the QSFP address, and the event says so."""
    cluster = sim_factory(["healthy", "healthy"], fabric="cable")
    src = put_model(cluster.nodes[0])
    known, ip = trust(cluster.nodes[0], cluster.nodes[1])
    rs = runners(cluster, monkeypatch)
    dep = Deployment.from_plan(pair_plan(cluster.nodes), [n.ssh_spec for n in cluster.nodes], name="sync")
    try:
        unknown_host = Sync(dep, rs, dry_run=True)
        texts = [e.message for e in unknown_host.run()]
        assert any("relayed through this machine" in t and f"cannot ssh to {ip}" in t for t in texts), texts
        host_key = Path(cluster.nodes[1].dir, "ssh_host_ed25519_key.pub").read_text().split()
        known.write_text(f"{ip} {host_key[0]} {host_key[1]}\n")
        events = list(Sync(dep, rs).run())
    finally:
        for r in rs.values():
            r.close()
    sent = [e for e in events if e.data.get("how")]
    assert [e.data["how"] for e in sent] == ["direct"], [e.message for e in events]
    assert "node to node" in sent[0].message and f"can ssh to {ip} with its own key" in sent[0].message
    assert any("sent in" in e.message for e in events)
    dst = Path(cluster.nodes[1].dir, *src.parts[len(Path(cluster.nodes[0].dir).parts):])
    for f in src.iterdir():
        assert (dst / f.name).read_bytes() == f.read_bytes()
