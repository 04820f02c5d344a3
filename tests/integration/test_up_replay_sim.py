"""up against what only a GB10 shows, on the simulated cluster's replay engine (real GB10 start
logs with their real timing, scaled by SPARKPILOT_TIME_SCALE): out of memory at start, a CUDA
graph capture that never ends on driver 590 (reported as a probable hang, then failed at the
timeout), Ray's memory monitor killing a worker; each diagnosed with its class and fix, and
torn down. And a real Ray cluster on the pair, ready and torn down; the worker killed while
loading: torn down, or with --restart restarted whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

images = pytest.importorskip("sim.images", reason="the simulated engine images (tests/sim/images.py) are not here yet")
from sim import replay_plan as replay_plan_mod  # type: ignore[attr-defined]  # noqa: E402 - after the importorskip above, on purpose
from sim.fixture import sim_docker_factory  # type: ignore[attr-defined]  # noqa: E402, F401 - registers the fixture for this module

pytestmark = pytest.mark.slow
SCALE = "0.02"


def sparkpilot(cluster, *args, timeout=600):
    env = {**cluster.env(), "XDG_STATE_HOME": str(cluster.dir) + "/state", "SPARKPILOT_TIME_SCALE": SCALE}
    return subprocess.run([sys.executable, "-m", "sparkpilot", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)


def replay_plan(cluster, nodes, scenario, tmp_path, executor=None, gpus=False):
    return replay_plan_mod.replay_plan(cluster, nodes, scenario, tmp_path, executor=executor, gpus=gpus, scale=SCALE)


def ray_processes(node):
    """Ray's processes (raylet, gcs_server, Ray's Python ones) running in the node's network namespace."""
    pids = subprocess.run(["ip", "netns", "pids", node.netns], capture_output=True, text=True, check=False).stdout
    found = []
    for pid in pids.split():
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "raylet" in cmd or "gcs_server" in cmd or "/ray/" in cmd:
            found.append(f"{pid} {cmd[:120]}")
    return found


def events_of(res):
    return [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]


def left(cluster, name):
    return [c for n in cluster.nodes
            for c in n.docker.docker("ps", "-aq", "--filter", f"label=sparkpilot.deployment={name}",
                                     check=False).stdout.split()]


def test_gb10_failures_are_diagnosed_and_torn_down(request, tmp_path):
    cluster = request.getfixturevalue("sim_docker_factory")(["driver-590"])
    for scenario, cls in (("oom-at-start", "oom_at_startup"), ("ray-memory-monitor", "ray_memory_monitor_kill"),
                          ("graph-capture-hang", "cudagraph_hang")):
        plan, hosts = replay_plan(cluster, cluster.nodes, scenario, tmp_path)
        res = sparkpilot(cluster, "up", str(plan), *hosts, "--name", scenario, "--format", "json", "--force",
                         "--hang-timeout", "8" if scenario == "graph-capture-hang" else "60")
        events = events_of(res)
        assert res.returncode == 1, res.stdout[-3000:] + res.stderr
        failure = next(e for e in events if e["event"] == "failure")["failure"]
        assert failure["class"] == cls and failure["fix"], failure
        if scenario == "graph-capture-hang":
            kinds = [e["event"] for e in events]
            assert kinds.index("stall") < kinds.index("hang") < kinds.index("failure")
            assert any("590" in line for line in failure["evidence"]), failure   # the driver pre-flight read
        assert [e for e in events if e["event"] == "teardown"][-1]["removed"] == [f"sparkpilot-{scenario}"]
        assert left(cluster, scenario) == []


def test_ray_cluster_on_the_pair_ready_and_torn_down(request, tmp_path):
    cluster = request.getfixturevalue("sim_docker_factory")(["healthy", "healthy"], fabric="cable")
    plan, hosts = replay_plan(cluster, cluster.nodes, "ready-pair-head", tmp_path, executor="ray", gpus=True)
    res = sparkpilot(cluster, "up", str(plan), *hosts, "--name", "ray", "--format", "json", "--force", "--no-smoke")
    events = events_of(res)
    formed = [e for e in events if e["event"] == "phase" and "Ray cluster formed" in e["message"]]
    assert formed and formed[0]["gpus"] >= 2, res.stdout[-3000:] + res.stderr
    down = sparkpilot(cluster, "down", "ray")
    assert down.returncode == 0 and left(cluster, "ray") == []
    for n in cluster.nodes:   # no Ray process left in the node (its network namespace: other simulated
        assert ray_processes(n) == []   # clusters on this machine use the same QSFP addresses)
    # the worker's container killed while the head loads weights, without --restart: the launch
    # fails, every container on both nodes is removed, no state is left. Time scale 0.2: the
    # recorded 66 s of loading last ~13 s.
    data = json.loads(plan.read_text())
    for node in data["launch"]["nodes"]:
        node["docker_run"] = [a.replace(f"SPARKPILOT_TIME_SCALE={SCALE}", "SPARKPILOT_TIME_SCALE=0.2")
                              for a in node["docker_run"]]
    plan.write_text(json.dumps(data))
    events, code = kill_worker_while_loading(cluster, plan, hosts, "ray")
    assert code == 1, events[-5:]
    assert any(e["event"] == "failure" for e in events)
    torn = {e["node"] for e in events if e["event"] == "teardown" and e["removed"] == ["sparkpilot-ray"]}
    assert torn == {n.ssh_spec for n in cluster.nodes}, events[-6:]
    assert not any(e["event"] == "supervisor" for e in events)
    assert left(cluster, "ray") == []
    assert not os.path.exists(os.path.join(str(cluster.dir), "state", "sparkpilot", "deployments", "ray.json"))


def kill_worker_while_loading(cluster, plan, hosts, name, *extra, scale="0.2"):
    """`up` on the pair; the worker's container killed (docker kill) once the head loads weights.
    Returns up's events and exit code."""
    env = {**cluster.env(), "XDG_STATE_HOME": str(cluster.dir) + "/state", "SPARKPILOT_TIME_SCALE": scale}
    proc = subprocess.Popen([sys.executable, "-m", "sparkpilot", "up", str(plan), *hosts, "--name", name,
                             "--format", "json", "--force", "--no-smoke", "--hang-timeout", "900", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:   # up's own events; it ends by itself on failure or ready
            seen.append(json.loads(line) if line.startswith("{") else {"event": "text", "message": line})
            if seen[-1].get("phase") == "weight_loading":
                break
        assert seen and seen[-1].get("phase") == "weight_loading", seen[-5:]
        cluster.nodes[1].docker.docker("kill", f"sparkpilot-{name}")
        out, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err, err[-3000:]
    return seen + events_of(subprocess.CompletedProcess([], proc.returncode, out, err)), proc.returncode


def test_worker_killed_while_loading_restarts_the_whole_pair(request, tmp_path):
    """--restart on-failure:1 on a native pair (replay engine: the recorded single-node `ready` start,
    236 lines, at time scale 0.3: its weight loading lasts ~5 s, ready ~50 s after; the pair's
    1686-line log goes through the sim's dockerd slower and slower, minutes a start): the worker's container
    killed while the head loads weights. up restarts the whole deployment (both nodes' containers
    removed and started again, the reason said), it becomes ready, and `down` leaves nothing: no
    container, supervisor or state."""
    cluster = request.getfixturevalue("sim_docker_factory")(["healthy", "healthy"], fabric="cable")
    plan, hosts = replay_plan(cluster, cluster.nodes, "ready", tmp_path, executor="native")
    data = json.loads(plan.read_text())
    for node in data["launch"]["nodes"]:
        node["docker_run"] = [a.replace(f"SPARKPILOT_TIME_SCALE={SCALE}", "SPARKPILOT_TIME_SCALE=0.3")
                              for a in node["docker_run"]]
    plan.write_text(json.dumps(data))
    events, code = kill_worker_while_loading(cluster, plan, hosts, "pair", "--restart", "on-failure:1", scale="0.3")
    assert code == 0, events[-5:]
    kinds = [e["event"] for e in events]
    at = kinds.index("supervisor")
    restart = events[at]
    assert restart["restart"] == 1 and restart["class"] == "unrecognised", restart
    assert "every container on every node" in restart["message"] and "exited" in restart["reason"], restart
    torn = {e["node"] for e in events[at:] if e["event"] == "teardown" and e["removed"] == ["sparkpilot-pair"]}
    assert torn == {n.ssh_spec for n in cluster.nodes}, events[at:at + 4]   # both nodes, not the dead one only
    assert sum(e["event"] == "container" for e in events[at:]) == 2          # and both started again
    assert events[-1]["event"] == "done" and events[-1]["outcome"] == "ready", events[-3:]
    assert any(e["event"] == "supervisor" and "supervisor started" in e["message"] for e in events)
    assert len(left(cluster, "pair")) == 2
    down = sparkpilot(cluster, "down", "pair")
    assert down.returncode == 0 and "supervisor" in down.stdout, down.stdout
    assert left(cluster, "pair") == []
    assert not os.path.exists(os.path.join(str(cluster.dir), "state", "sparkpilot", "deployments", "pair.json"))
