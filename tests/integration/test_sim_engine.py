"""The simulated cluster's real parts: a dockerd per node, the engine image, the stub GPU hook, the
made models, a real vLLM engine on one node and a native tensor-parallel pair, and a teardown that
leaves nothing behind (the fixtures assert it)."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest

from sim import images
from sim.models import FIXED_SENTENCE, MODELS, place

pytestmark = pytest.mark.slow


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def test_node_dockerd_is_the_nodes_own(sim_docker_factory):
    cluster = sim_docker_factory(["healthy", "healthy"])
    a, b = cluster.nodes
    assert images.ENGINE_IMAGE in a.docker.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    script = "hostname; cat /proc/net/dev; touch /dev/shm/mark-$(hostname); ls /dev/shm"
    out = {}
    for node in (a, b):  # `--gpus all` is accepted (stub hook); host network = the node's ports
        proc = node.docker.docker("run", "--rm", "--network", "host", "--ipc", "host", "--gpus", "all",
                                  images.ENGINE_IMAGE, "sh", "-c", script)
        out[node.name] = proc.stdout
    for node in (a, b):
        text = out[node.name]
        assert text.splitlines()[0] == node.hostname
        assert "enp1s0f1np1" in text and "enP7s7" in text and "docker0" not in text
        other = b if node is a else a
        assert f"mark-{other.hostname}" not in text  # each node its own /dev/shm
    # over ssh the node's docker client reaches the node's own engine (DOCKER_HOST in sshd's env)
    ssh = subprocess.run(["ssh", "-F", cluster.ssh_config, a.name, "docker", "info", "--format",
                          "{{.Name}}"], capture_output=True, text=True, timeout=60)
    assert ssh.stdout.strip() == a.hostname, ssh.stderr


def test_models_in_the_nodes_cache(sim_docker_factory):
    cluster = sim_docker_factory(["healthy"])
    node = cluster.nodes[0]
    snap = place(node, "fixed-sentence")
    cfg = json.loads(open(f"{snap}/config.json").read())
    assert cfg["architectures"] == ["LlamaForCausalLM"]
    repo = f"{node.hf_home}/hub/models--{MODELS['fixed-sentence'].replace('/', '--')}"
    assert open(f"{repo}/refs/main").read() == snap.rsplit("/", 1)[1]


def test_single_engine_answers(sim_engine):
    models = json.loads(get(sim_engine.url + "/v1/models"))
    assert [m["id"] for m in models["data"]] == [sim_engine.model]
    assert sim_engine.engines[0].chat("Hello, who are you?") == FIXED_SENTENCE
    metrics = get(sim_engine.url + "/metrics")
    assert "vllm:num_requests_running" in metrics
    print(f"single engine ready in {sim_engine.ready_s:.1f} s")


def test_native_pair_answers(sim_engine_pair):
    head, worker = sim_engine_pair.engines
    assert head.chat("What is the answer?") == FIXED_SENTENCE
    assert worker.state().get("Running")  # the headless rank serves its half
    logs = head.logs(400)
    assert "world_size=2" in logs or "tensor_parallel_size=2" in logs
    print(f"native pair ready in {sim_engine_pair.ready_s:.1f} s")
