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


def replay_run(node, scenario: str, name: str, scale: str = "0.01"):
    from sim.engine import Engine, run_argv

    argv = run_argv(node, "replay", name=name, cpu="0", image=f"{images.REPLAY_IMAGE}:{scenario}",
                    extra_env={"SPARKPILOT_TIME_SCALE": scale})
    out = node.docker.docker(*argv, "vllm", "serve", "some/model", "--port", "8001")
    return Engine(node=node, container=out.stdout.strip(), model="some/model", port=8001)


def wait_state(engine, done, timeout: float = 120) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = engine.state()
        if done(st):
            return st
        time.sleep(0.3)
    raise AssertionError(f"container state never reached: {engine.state()}")


def health(engine) -> int | None:
    try:
        with urllib.request.urlopen(engine.url + "/health", timeout=2) as r:
            return r.status
    except OSError:
        return None


def test_replay_image_plays_real_starts(sim_docker_factory):
    """The replay image writes the real log lines in order, serves /health only from the line
    where the real start was ready, exits 1 where it failed, and hangs where the recording stops."""
    import time

    from sim.replay import SCENARIOS, compile_log, find_logs, meta_for

    cluster = sim_docker_factory(["healthy"])
    node = cluster.nodes[0]
    logs = find_logs()
    expected = {name: compile_log(logs[SCENARIOS[name][0]].read_text(errors="replace"),
                                  meta_for(logs[SCENARIOS[name][0]]), SCENARIOS[name][1])
                for name in ("ready", "oom-at-start", "graph-capture-hang")}
    # a failed start: every line, in order, then exit 1; /health never answered
    oom = replay_run(node, "oom-at-start", "oom")
    seen_health = False
    while oom.state().get("Running"):
        seen_health = seen_health or health(oom) == 200
        time.sleep(0.2)
    assert oom.state()["ExitCode"] == 1 and not seen_health
    assert oom.logs(10000) == "\n".join(line for _, line in expected["oom-at-start"]["lines"]).strip()
    # a ready start: /health answers only once "Application startup complete" was written
    ready = replay_run(node, "ready", "ready")
    while health(ready) != 200:
        assert ready.state().get("Running"), ready.logs()
        time.sleep(0.1)
    assert "Application startup complete" in ready.logs(10000)
    ready.stop()
    # a start that hangs in CUDA graph capture: all its lines, then alive and never healthy
    hang = replay_run(node, "graph-capture-hang", "hang")
    last = expected["graph-capture-hang"]["lines"][-1][1]
    deadline = time.monotonic() + 120
    while last not in hang.logs(3) and time.monotonic() < deadline:
        assert health(hang) is None
        time.sleep(0.2)
    time.sleep(1.0)
    assert hang.state().get("Running") and health(hang) is None
    assert "Capturing CUDA graphs" not in hang.logs(10000)


def test_ray_cluster_across_nodes_with_replayed_engine(sim_docker_factory):
    """Real Ray 2.60 across two nodes' namespaces (head + worker, one GPU each), and the replayed
    GB10 `vllm serve --distributed-executor-backend ray` in the head container becoming healthy."""
    from sim.ray import start_ray

    cluster = sim_docker_factory(["healthy", "healthy"])
    ray = start_ray(cluster.nodes)
    ray.wait(timeout=300)
    status = ray.status()
    assert status["nodes"] == 2 and status["gpus"] == 2.0
    assert status["ips"] == sorted(n.qsfp_ips["enp1s0f1np1"] for n in cluster.nodes)
    engine = ray.serve("ready-pair-head", env={"SPARKPILOT_TIME_SCALE": "0.005"}, port=8002)
    assert engine.wait_ready(timeout=120) >= 0
    out = cluster.nodes[0].docker.docker("exec", ray.container, "ps", "-eo", "args").stdout
    assert "raylet" in out and "gcs_server" in out
    ray.stop()


# the engine tests last: the session's engines start with its first test (sim_engines_early), so
# the tests above run while they start
def test_models_in_the_nodes_cache(sim_engine):
    node = sim_engine.node
    snap = place(node, "fixed-sentence")  # placed already for the engine: placing again is a no-op
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
