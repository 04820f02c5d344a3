"""`up` / `status` / `logs` / `down` on the simulated cluster's real vLLM (its CPU build).

Written against tests/sim's engine API (checked_cluster, models.place, images.ENGINE_IMAGE,
engine.SERVE_FLAGS). The plan comes from `sparkpilot plan` on the node's model folder; its vLLM
flags for a GB10 (graph capture size, TRITON_ATTN, fp8 KV cache, 0.87 of a GPU) are swapped for
the flags the CPU build accepts (engine.SERVE_FLAGS) and the CPU build's per-node environment
(and `--ulimit memlock=-1`, which runc may not set under this machine's dockerd): that is the only
change, and it is the simulated engine's, not up's. `up --force`: pre-flight
rightly refuses that launch on a GB10 (lint: --enforce-eager; the recorded GB10 meminfo has less
free memory than 0.87 of it), and says so; the CPU engine does not use that memory.
After every scenario no container of the deployment is left on any node (asserted).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

engine = pytest.importorskip("sim.engine", reason="the simulated vLLM engine (tests/sim/engine.py) is not here yet")
# after the importorskip: these exist once the engine lands (h10); until then the module skips
from sim import images, launch_plan, models  # type: ignore[attr-defined]  # noqa: E402
from sim.fixture import _skip_unless_docker, checked_cluster  # type: ignore[attr-defined]  # noqa: E402

pytestmark = pytest.mark.slow
HANG = "900"   # --hang-timeout: a loaded 2-core machine takes minutes in the CPU build's engine init


@pytest.fixture(scope="module")
def pair():
    """One cabled pair with a dockerd per node for every scenario here (single-node ones use node 0);
    torn down afterwards and asserted gone (checked_cluster)."""
    _skip_unless_docker()
    with checked_cluster(["healthy", "healthy"], fabric="cable") as cluster:
        yield cluster


def sparkpilot(cluster, *args, timeout=600):
    return launch_plan.sparkpilot(cluster, *args, timeout=timeout)


def cpu_plan(cluster, nodes, model="fixed-sentence", executor=None, tmp_path=None, hub_id=False):
    """The plan for the nodes, for the CPU build (tests/sim/launch_plan.py)."""
    return launch_plan.cpu_plan(cluster, nodes, tmp_path / "plan.json", model=model, executor=executor,
                                hub_id=hub_id)


def containers_left(cluster, name):
    left = []
    for n in cluster.nodes:
        out = n.docker.docker("ps", "-aq", "--filter", f"label=sparkpilot.deployment={name}", check=False)
        left += out.stdout.split()
    return left


TOKEN = "hf_SimulatedTokenNeverShown0123456789"   # the shape of a Hugging Face token; fake


def test_single_node_plan_to_chat_to_down(pair, tmp_path):
    """One node from `plan` to a chat answer to `down`, with --follow (attached to the logs once
    ready; SIGINT, what Ctrl-C sends, only detaches and the server keeps serving), HF_TOKEN given to
    the container by name through a 0600 env file on the node (the token never in up's output, its
    events, the state files or the container's command; the file removed), --restart on-failure:1
    (the container killed: the supervisor restarts the deployment, HF_TOKEN given again; then an OOM
    in its log: not restarted, SPU020), a second `up` of the name refused."""
    cluster = pair
    node = cluster.nodes[0]
    plan, hosts = cpu_plan(cluster, cluster.nodes[:1], tmp_path=tmp_path)
    env = {**cluster.env(), "XDG_STATE_HOME": str(cluster.dir) + "/state", "HF_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "sparkpilot", "up", str(plan), *hosts, "--name", "one",
                             "--format", "json", "--force", "--hang-timeout", HANG, "--restart", "on-failure:1",
                             "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        assert wait_for(lambda: any('"outcome": "ready"' in x for x in list(lines)) or proc.poll() is not None)
        assert proc.poll() is None, "".join(lines)[-3000:]   # ready, and still attached (--follow)
        # requests to the server: their access lines show in the followed log (node | line)
        assert wait_for(lambda: serving(node) and any(" | " in x and "/v1/models" in x for x in list(lines)),
                        120), lines[-5:]
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read() if proc.stderr else ""
    up_out = "".join(lines)
    assert proc.returncode == 0 and "detached; one keeps serving" in err, err[-2000:]
    assert "Traceback" not in err and serving(node) and containers_left(cluster, "one")   # still serving
    events = [json.loads(x) for x in lines if x.startswith("{")]
    sup = next(e for e in events if e["event"] == "supervisor")
    smoke = next(e for e in events if e["event"] == "smoke")
    assert smoke["answer"].strip().startswith(models.FIXED_SENTENCE[:20]) and smoke["verdict"] == "ok"
    assert events[-1]["event"] == "done" and events[-1]["outcome"] == "ready"
    assert [e["phase"] for e in events if e["event"] == "phase"][-1] == "ready"
    # HF_TOKEN: the container has it; nothing else does
    seen = node.docker.docker("exec", "sparkpilot-one", "printenv", "HF_TOKEN", check=False).stdout.strip()
    assert seen == TOKEN
    inspect = json.loads(node.docker.docker("inspect", "sparkpilot-one").stdout)[0]
    assert TOKEN not in json.dumps([inspect["Path"], inspect["Args"], inspect["Config"]["Cmd"]])
    assert TOKEN not in up_out + err
    state_dir = Path(str(cluster.dir), "state")
    token_file = state_dir / "sparkpilot" / "deployments" / "one.token"   # the supervisor's, 0600
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert all(TOKEN.encode() not in f.read_bytes() for f in state_dir.rglob("*") if f.is_file() and f != token_file)
    assert list(state_dir.rglob("*.json")) and not Path(node.dir, "home", ".cache", "sparkpilot", "one.env").exists()
    again = sparkpilot(cluster, "up", str(plan), *hosts, "--name", "one", "--force", "--hang-timeout", HANG)
    assert again.returncode == 1 and "already running" in again.stderr
    status = json.loads(sparkpilot(cluster, "status", "one", "--format", "json").stdout)
    assert status["nodes"][0]["state"] == "running" and status["supervisors"]["one"]["running"], status
    # the container dies: the supervisor (--restart on-failure:1) starts the deployment again, whole
    first = containers_left(cluster, "one")
    cluster.nodes[0].docker.docker("kill", "sparkpilot-one")
    restarted = wait_ready_again(cluster, "one", first)
    assert restarted, f"not restarted: {containers_left(cluster, 'one')} (was {first})"
    # the supervisor's restart gave the new container HF_TOKEN too (its docker run, by the env file)
    seen = node.docker.docker("exec", "sparkpilot-one", "printenv", "HF_TOKEN", check=False).stdout.strip()
    assert seen == TOKEN
    # the rank dies of a failure that will not fix itself (SPU020): the supervisor diagnoses its log,
    # does not restart, removes the deployment and stops. The line is torch's, from a real report's
    # log (tests/data/logs_unseen/221.log), written to the engine's stderr; then the container killed.
    oom = "torch.OutOfMemoryError: CUDA out of memory."
    node.docker.docker("exec", "sparkpilot-one", "sh", "-c", f"echo '{oom}' >/proc/1/fd/2")
    node.docker.docker("kill", "sparkpilot-one")
    assert wait_for(lambda: containers_left(cluster, "one") == [] and not token_file.exists(), 120)
    if sup["kind"] == "setsid":   # its log (systemd: the journal)
        log = Path.home() / ".cache" / "sparkpilot" / "detached" / "sparkpilot-supervisor-one.log"
        assert wait_for(lambda: "supervisor stopped" in log.read_text(), 60), log.read_text()[-2000:]
        text = log.read_text()
        assert "not restarting: oom_at_startup will not fix itself" in text and TOKEN not in text, text[-2000:]
    said = sparkpilot(cluster, "status", "one")   # status says the supervisor stopped, and why
    assert "supervisor not running" in said.stdout and "1 restart(s)" in said.stdout, said.stdout
    assert "supervisor stopped:" in said.stdout and "oom_at_startup will not fix itself" in said.stdout, said.stdout
    down = sparkpilot(cluster, "down", "one")   # the supervisor already stopped, nothing left to remove
    assert down.returncode == 0 and "removed nothing" in down.stdout, down.stdout
    assert containers_left(cluster, "one") == [] and not token_file.exists()
    if sup["kind"] == "setsid":   # the supervisor is gone too (systemd: its unit, which `down` stopped)
        assert not Path(f"/proc/{sup['pid']}").exists() or "zombie" in Path(f"/proc/{sup['pid']}/status").read_text()
    assert not json.loads(sparkpilot(cluster, "status", "--format", "json").stdout).get("supervisors", {}).get("one")


def wait_for(cond, timeout=900.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.5)
    return False


def serving(node):
    """The node's API lists a model (GET /v1/models from inside the node)."""
    try:
        return bool(json.loads(curl(node, "/v1/models"))["data"])
    except (ValueError, KeyError):
        return False


def curl(node, path):
    """GET on the node's API port from inside the node (its network namespace)."""
    return subprocess.run(["ip", "netns", "exec", node.netns, "curl", "-s", "-m", "30",
                           f"http://{node.mgmt_ip}:8000{path}"], capture_output=True, text=True, check=False).stdout


def wait_ready_again(cluster, name, before, timeout=600.0):
    """True once a new container of the deployment (not one of `before`) serves: status says ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = containers_left(cluster, name)
        if now and not set(now) & set(before):
            rows = json.loads(sparkpilot(cluster, "status", name, "--format", "json").stdout)["nodes"]
            if rows and rows[0]["state"] == "running" and rows[0]["phase"] == "ready":
                return True
        time.sleep(3)
    return False


def test_random_weights_is_garbage_and_torn_down(pair, tmp_path):
    cluster = pair
    plan, hosts = cpu_plan(cluster, cluster.nodes[:1], model="tiny-random", tmp_path=tmp_path)
    up = sparkpilot(cluster, "up", str(plan), *hosts, "--name", "rnd", "--force", "--hang-timeout", HANG)
    assert up.returncode == 1, up.stdout[-2000:]
    assert "cutlass_fp4_garbage" in up.stdout and "removed sparkpilot-rnd" in up.stdout
    assert containers_left(cluster, "rnd") == []


def test_native_pair_tp2_and_a_flag_vllm_rejects(pair, tmp_path):
    cluster = pair
    plan, hosts = cpu_plan(cluster, cluster.nodes, executor="native", tmp_path=tmp_path, hub_id=True)
    up = sparkpilot(cluster, "up", str(plan), *hosts, "--name", "pair", "--force", "--hang-timeout", HANG, "-v")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr
    assert "executor native" in up.stdout and "smoke chat" in up.stdout
    assert "model missing" in up.stdout and "relayed through this machine" in up.stdout   # sent, then started
    assert sparkpilot(cluster, "down", "pair").returncode == 0
    assert containers_left(cluster, "pair") == []
    data = json.loads(plan.read_text())
    for node in data["launch"]["nodes"]:
        node["docker_run"].append("--no-such-flag")
    plan.write_text(json.dumps(data))
    bad = sparkpilot(cluster, "up", str(plan), *hosts, "--name", "pair", "--force", "--hang-timeout", HANG)
    assert bad.returncode == 1 and "cli_unrecognized_argument" in bad.stdout, bad.stdout[-2000:]
    assert containers_left(cluster, "pair") == []


def state_file(cluster, name):
    return Path(str(cluster.dir), "state", "sparkpilot", "deployments", f"{name}.json")


def test_dry_run_changes_nothing_on_any_node(pair, tmp_path):
    """--dry-run on the pair, the model on the head only: every step and command per node is shown
    (the copy it would make too), and afterwards no container, no state file, no model copied."""
    cluster = pair
    models.remove(cluster.nodes[1], "tiny-random")
    plan, hosts = cpu_plan(cluster, cluster.nodes, model="tiny-random", executor="native", tmp_path=tmp_path,
                           hub_id=True)
    res = sparkpilot(cluster, "up", str(plan), *hosts, "--name", "dry", "--format", "json", "--dry-run",
                     "--restart", "on-failure:1")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    events = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    commands = [e for e in events if e["event"] == "command"]
    assert sorted(e["node"] for e in commands) == sorted(n.ssh_spec for n in cluster.nodes), commands
    assert all(e["dry_run"] and e["argv"][:2] == ["docker", "run"] for e in commands), commands
    assert any("model missing" in e.get("message", "") for e in events), res.stdout[-3000:]
    assert events[-1]["event"] == "done" and events[-1]["outcome"] == "dry-run"
    # the stand-ins' plain nvidia-smi (a real GB10 desktop: graphics only): gpu-idle never blocks there
    assert not [e for e in events if e["event"] == "check" and e.get("name") == "gpu-idle"], events
    stop = [e for e in events if "pre-flight error" in e.get("message", "")]
    assert not [x for e in stop for x in e.get("errors", []) if "gpu-idle" in x], stop
    assert containers_left(cluster, "dry") == []
    assert not state_file(cluster, "dry").exists()
    assert not Path(models.hf_home(cluster.nodes[1]), "hub", "models--sparkpilot-sim--tiny-random").exists()
    for n in cluster.nodes:   # nor a compile cache folder, nor a token file
        assert not Path(n.dir, "home", ".cache", "sparkpilot", "dry.env").exists()


def test_max_model_len_beyond_the_model_is_refused_before_anything_starts(pair):
    """The model folder with --max-model-len above its 2048 positions: refused by the plan step, one
    line, exit 2 (usage), before any node is touched; nothing is left."""
    cluster = pair
    node = cluster.nodes[0]
    snap = models.place(node, "fixed-sentence")
    hosts = ["--host", node.ssh_spec]
    res = sparkpilot(cluster, "up", snap, *hosts, "--name", "long", "--max-model-len", "4096",
                     "--image", images.ENGINE_IMAGE)
    assert res.returncode == 2, res.stdout + res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "--max-model-len 4096" in res.stderr, res.stderr
    assert "2048" in res.stderr and "Traceback" not in res.stderr
    assert containers_left(cluster, "long") == [] and not state_file(cluster, "long").exists()


def test_plan_file_edited_past_the_models_positions_is_refused_in_preflight(pair, tmp_path):
    """A plan file edited to --max-model-len 4096 on fixed-sentence (2048 positions): pre-flight reads
    the model's config.json on the node (its Hugging Face cache) and refuses the launch with lint's
    SPL017, before any container starts. With VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 in the launch it is a
    warning (shown here with --dry-run: nothing starts either way)."""
    cluster = pair
    plan, hosts = cpu_plan(cluster, cluster.nodes[:1], tmp_path=tmp_path)
    data = json.loads(plan.read_text())
    node = data["launch"]["nodes"][0]
    for argv in (node["argv"], node["docker_run"]):
        argv[argv.index("--max-model-len") + 1] = "4096"
    plan.write_text(json.dumps(data))
    res = sparkpilot(cluster, "up", str(plan), *hosts, "--name", "long", "--hang-timeout", HANG)
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr
    assert "SPL017" in res.stderr and "--max-model-len 4096 is above the model's 2048 positions" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert "docker run" not in res.stdout and "launch" not in res.stdout.split("pre-flight")[-1]
    assert containers_left(cluster, "long") == [] and not state_file(cluster, "long").exists()
    run = node["docker_run"]
    run[run.index(data["launch"]["image"]):run.index(data["launch"]["image"])] = [
        "-e", "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1"]
    plan.write_text(json.dumps(data))
    dry = sparkpilot(cluster, "up", str(plan), *hosts, "--name", "long", "--dry-run", "--format", "json")
    checks = [json.loads(x) for x in dry.stdout.splitlines() if x.startswith("{") and '"SPL017"' in x]
    assert dry.returncode == 0 and len(checks) == 1 and checks[0]["status"] == "warn", dry.stdout[-2000:]
    assert containers_left(cluster, "long") == []


def test_ctrl_c_during_weight_loading_removes_the_deployment(pair, tmp_path):
    """SIGINT to `up` (what Ctrl-C sends) while the real engine loads big-random's four shards
    (~2.2 GB): exit 130, the teardown said, no container, no state file left."""
    cluster = pair
    plan, hosts = cpu_plan(cluster, cluster.nodes[:1], model="big-random", tmp_path=tmp_path)
    env = {**cluster.env(), "XDG_STATE_HOME": str(cluster.dir) + "/state"}
    proc = subprocess.Popen([sys.executable, "-m", "sparkpilot", "up", str(plan), *hosts, "--name", "big",
                             "--format", "json", "--force", "--hang-timeout", HANG],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:   # up's own events; it ends by itself on failure, ready or a hang timeout
            seen.append(json.loads(line) if line.startswith("{") else {"event": "text", "message": line})
            if seen[-1].get("phase") == "weight_loading":
                break
        assert seen and seen[-1].get("phase") == "weight_loading", seen[-5:]
        assert state_file(cluster, "big").exists()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert proc.returncode == 130, out[-3000:] + err
    assert "Traceback" not in err
    removed = [c for e in events if e["event"] == "teardown" for c in e["removed"]]
    assert removed == ["sparkpilot-big"], events[-5:]
    assert events[-1]["event"] == "done" and events[-1]["outcome"] == "incomplete", events[-3:]
    assert containers_left(cluster, "big") == [] and not state_file(cluster, "big").exists()
