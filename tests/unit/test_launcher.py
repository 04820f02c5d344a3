"""The launcher's pure parts: a plan bound to hosts, the docker run a deployment runs, the judge,
the smoke chat's stream, the model copy check, merged logs, and the text progress."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest

from fake_docker import FakeDockerNode
from sparkpilot.errors import UsageError
from sparkpilot.launcher import containers, readiness
from sparkpilot.launcher.deployment import (
    LABEL,
    Deployment,
    default_name,
    set_port,
    validate_plan,
)
from sparkpilot.launcher.events import Event
from sparkpilot.launcher.judge import judge, mixed_scripts_reason
from sparkpilot.launcher.sync import judge_copy, model_root

DATA = Path(__file__).resolve().parent.parent / "data"
SINGLE = json.loads((DATA / "up" / "plan-single-qwen3-32b.json").read_text())


def filled_pair() -> dict:
    """A native pair plan with the interconnect values a --host plan would read."""
    from sparkpilot.cli.main import main  # noqa: F401 - the package imports

    plan = copy.deepcopy(SINGLE)
    head = plan["launch"]["nodes"][0]
    nodes = []
    for rank, ip in enumerate(("192.168.100.10", "192.168.100.11")):
        argv = [a for a in head["argv"]] + ["--distributed-executor-backend", "mp", "--nnodes", "2",
                                             "--node-rank", str(rank), "--master-addr", "192.168.100.10",
                                             "--master-port", "29501"] + (["--headless"] if rank else [])
        env = {"VLLM_HOST_IP": ip, "GLOO_SOCKET_IFNAME": "enp1s0f1np1"}
        run = ["docker", "run", "-d", "--name", "sparkpilot-vllm", "--gpus", "all", "--ipc=host", "--network",
               "host", "-v", "$HOME/.cache/huggingface:/root/.cache/huggingface", "-e", "HF_TOKEN"]
        for k, v in env.items():
            run += ["-e", f"{k}={v}"]
        nodes.append({"name": f"spark-{rank + 1}", "role": "head" if rank == 0 else "worker", "argv": argv,
                      "env": env, "mounts": head["mounts"], "docker_run": run + [plan["launch"]["image"], *argv]})
    plan["launch"] = {"image": plan["launch"]["image"], "executor": "native", "nodes": nodes}
    return plan


def test_single_plan_binds_to_this_machine():
    dep = Deployment.from_plan(SINGLE, [], name=None)
    assert dep.name == "qwen3-32b" and dep.nodes[0].host == "local" and dep.executor == "single"
    assert dep.port == 8000 and dep.endpoint == "http://127.0.0.1:8000/v1"


def test_pair_needs_one_host_per_node():
    with pytest.raises(UsageError, match="one --host per node"):
        Deployment.from_plan(filled_pair(), [])
    with pytest.raises(UsageError, match="2 node"):
        Deployment.from_plan(filled_pair(), ["a@x"])
    dep = Deployment.from_plan(filled_pair(), ["me@spark-1", "me@spark-2:2222"], name="pair", port=8001)
    assert [n.role for n in dep.nodes] == ["head", "worker"]
    assert dep.endpoint == "http://spark-1:8001/v1"
    assert all("8001" in n.launch.argv for n in dep.nodes)


def test_placeholders_and_bad_plans_are_bad_input():
    plan = filled_pair()
    plan["launch"]["nodes"][1]["docker_run"][-3] = "<HEAD_IP>"
    with pytest.raises(UsageError, match="HEAD_IP"):
        validate_plan(plan)
    with pytest.raises(UsageError, match="schema"):
        validate_plan({**SINGLE, "schema_version": 99})
    with pytest.raises(UsageError, match="does not fit"):
        validate_plan({**SINGLE, "fits": False})
    with pytest.raises(UsageError, match="no launch"):
        validate_plan({"model": "x"})
    with pytest.raises(UsageError, match="bad --name"):
        Deployment.from_plan(SINGLE, [], name="Bad Name")


def test_port_only_changes_vllm_in_a_ray_head_script():
    script = ["bash", "-c", "ray start --head --port=6379 && exec vllm serve M --port 8000"]
    assert set_port(script, 9000)[2] == "ray start --head --port=6379 && exec vllm serve M --port 9000"
    assert default_name("Qwen/Qwen3-235B-A22B-GPTQ-Int4") == "qwen3-235b-a22b-gptq-int4"


def test_run_argv_adds_labels_name_cache_and_keeps_the_plan():
    dep = Deployment.from_plan(filled_pair(), ["me@a", "me@b"], name="pair")
    node = dep.nodes[1]
    argv = containers.run_argv(dep, node, "/home/me")
    plan_run = node.launch.docker_run
    at = argv.index(dep.image)
    assert argv[at:] == plan_run[plan_run.index(dep.image):]          # image and command as planned
    assert argv[argv.index("--name") + 1] == "sparkpilot-pair" and argv.count("--name") == 1
    labels = [argv[i + 1] for i, a in enumerate(argv) if a == "--label"]
    assert f"{LABEL}=pair" in labels and "sparkpilot.role=worker" in labels and "sparkpilot.rank=1" in labels
    assert "/home/me/.cache/sparkpilot/vllm-cache:/root/.cache/vllm" in argv
    assert "/home/me/.cache/huggingface:/root/.cache/huggingface" in argv    # $HOME expanded on the node
    assert "--restart" not in argv and "-d" in argv[:at]


def test_run_argv_points_every_compile_cache_under_the_mount():
    """A restart skips compiling only if every JIT cache is on the mounted folder, not in the
    container's /tmp or ~ (inductor, Triton, FlashInfer, the driver's PTX cache); a variable the
    plan sets itself is kept as planned."""
    plan = copy.deepcopy(SINGLE)
    run = plan["launch"]["nodes"][0]["docker_run"]
    run[2:2] = ["-e", "TRITON_CACHE_DIR=/mine/triton"]
    dep = Deployment.from_plan(plan, [])
    argv = containers.run_argv(dep, dep.nodes[0], "/home/me")
    env = [argv[i + 1] for i, a in enumerate(argv[:argv.index(dep.image)]) if a == "-e"]
    mount = argv[argv.index("/home/me/.cache/sparkpilot/vllm-cache:/root/.cache/vllm") - 1 :][1].split(":")[1]
    for name in ("VLLM_CACHE_ROOT", "TORCHINDUCTOR_CACHE_DIR", "FLASHINFER_WORKSPACE_BASE", "CUDA_CACHE_PATH"):
        value = next(e.split("=", 1)[1] for e in env if e.startswith(name + "="))
        assert value == mount or value.startswith(mount + "/"), (name, value)
    assert [e for e in env if e.startswith("TRITON_CACHE_DIR=")] == ["TRITON_CACHE_DIR=/mine/triton"]
    assert containers.env_names(["-e", "A=1", "--env=B=2", "-e", "C", "-v", "D=1:/x"]) == {"A", "B", "C"}


def test_run_argv_drops_a_docker_restart_policy():
    plan = copy.deepcopy(SINGLE)
    run = plan["launch"]["nodes"][0]["docker_run"]
    run[2:2] = ["--restart", "unless-stopped"]
    dep = Deployment.from_plan(plan, [])
    assert "--restart" not in containers.run_argv(dep, dep.nodes[0], "/root")


def test_ps_parses_docker_json_lines():
    line = json.dumps({"ID": "0123456789abcdef", "Names": "sparkpilot-x", "State": "exited",
                       "Status": "Exited (1) 3 seconds ago", "Labels": f"{LABEL}=x,sparkpilot.role=head",
                       "Image": "img", "CreatedAt": "2026-01-01"})
    (c,) = containers.parse_ps(line + "\nnot json\n")
    assert c.id == "0123456789ab" and not c.running and c.labels["sparkpilot.role"] == "head"


@pytest.mark.parametrize("path", sorted((DATA / "judge").glob("*.json")), ids=lambda p: p.stem)
def test_judge_on_public_answers(path):
    case = json.loads(path.read_text())
    verdict = judge(case["answer"])
    assert verdict.ok == (case["verdict"] == "ok"), verdict.reason
    if not verdict.ok:
        assert verdict.failure.cls == "cutlass_fp4_garbage" and verdict.failure.fix


def test_judge_mixed_scripts():
    soup = "Kerala пример 東京タワー ciudadanos مرحبا Straße indeed вообще 大学 العربية"
    assert mixed_scripts_reason(soup)
    assert not judge(soup).ok
    assert judge("The simulated Spark answered from a real vLLM engine.").ok
    assert judge("Paris est la capitale de la France (巴黎).").ok


def test_chat_stream_parse():
    text = ('data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n'
            'data: {"choices":[{"delta":{"content":"Paris is"}}]}\n\n'
            'data: {"choices":[{"delta":{"content":" the capital."},"finish_reason":"stop"}]}\n\n'
            'data: [DONE]\n\n__sparkpilot_ttfb=0.123\n')
    assert readiness.parse_chat_stream(text) == ("Paris is the capital.", 0.123, "stop", None)
    err = '{"error":{"message":"model not found"}}\n__sparkpilot_ttfb=0.01\n'
    assert readiness.parse_chat_stream(err)[3] == "model not found"
    argv = readiness.chat_argv(8000, "m")
    assert argv[0] == "curl" and json.loads(argv[argv.index("-d") + 1])["temperature"] == 0


def _listing(files, index=None, incomplete=()):
    out = "DIR /h/.cache/huggingface/hub/models--o--m/snapshots/abc\n"
    out += "".join(f"F\t{n}\t{s}\t{t}\n" for n, s, t in files)
    out += "".join(f"I\t{n}\n" for n in incomplete)
    if index is not None:
        out += "INDEX\n" + json.dumps(index)
    return out


def test_model_copy_against_its_index():
    index = {"metadata": {"total_size": 2000}, "weight_map": {"a": "m-1.safetensors", "b": "m-2.safetensors"}}
    ok = judge_copy("n", "p", "r", _listing([("config.json", 10, "f"), ("m-1.safetensors", 1008, "f"),
                                             ("m-2.safetensors", 1008, "f")], index))
    assert ok.state == "complete", ok.problems
    cut = judge_copy("n", "p", "r", _listing([("config.json", 10, "f"), ("m-1.safetensors", 1008, "f"),
                                              ("m-2.safetensors", 500, "f")], index))
    assert cut.state == "partial" and "cut short" in cut.problems[0]
    gone = judge_copy("n", "p", "r", _listing([("config.json", 10, "f"), ("m-1.safetensors", 1008, "f")], index,
                                              incomplete=["abc.incomplete"]))
    assert gone.state == "partial" and any("1 of 2 shards missing" in p for p in gone.problems)
    assert any("unfinished" in p for p in gone.problems)
    broken = judge_copy("n", "p", "r", _listing([("config.json", 10, "f"), ("model.safetensors", 0, "l")]))
    assert any("does not resolve" in p for p in broken.problems)
    assert judge_copy("n", "p", "r", "MISSING\n").state == "missing"


def test_model_root_hub_and_local():
    dep = Deployment.from_plan(SINGLE, [])
    check, send = model_root(dep, dep.nodes[0], "/home/me")
    assert check == "/home/me/.cache/huggingface/hub/models--Qwen--Qwen3-32B/snapshots/*"
    assert send.endswith("models--Qwen--Qwen3-32B")


def test_logs_merge_by_time():
    from sparkpilot.cli.logs import merged

    a = "2026-01-01T00:00:01.000000000Z head one\n2026-01-01T00:00:03.000000000Z head two\n"
    b = "2026-01-01T00:00:02.000000000Z worker one\n"
    assert [r[1:] for r in merged([("a", a), ("b", b)])] == [("a", "head one"), ("b", "worker one"),
                                                               ("a", "head two")]


def test_text_progress_renders_a_failure():
    from sparkpilot.ui.progress import TextRenderer

    buf = io.StringIO()
    r = TextRenderer(buf)
    r.event(Event("phase", "weight loading", node="spark-1", phase="weight_loading", data={"eta_s": 60, "elapsed_s": 3}))
    r.event(Event("failure", "no memory", node="spark-2", phase="memory_profiling",
                  data={"failure": {"class": "oom_at_startup", "id": "SPF001", "message": "no memory",
                                    "fix": "lower it", "evidence": ["line"]}}))
    text = buf.getvalue()
    assert "spark-1" in text and "failed: oom_at_startup (SPF001) on spark-2 in memory_profiling" in text
    assert "fix: lower it" in text and "sparkpilot explain oom_at_startup" in text


def test_events_are_json_lines():
    from sparkpilot.ui.progress import JsonRenderer

    buf = io.StringIO()
    JsonRenderer(buf).event(Event("ready", "ok", node="n", phase="ready", data={"seconds_to_ready": 1.5}))
    row = json.loads(buf.getvalue())
    assert row["event"] == "ready" and row["node"] == "n" and row["seconds_to_ready"] == 1.5


def test_up_cli_bad_input_is_one_line(tmp_path, capsys):
    from sparkpilot.cli.main import main

    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    assert main(["up", str(bad)]) == 2
    assert main(["up", str(DATA / "up" / "plan-single-qwen3-32b.json"), "--restart", "always"]) == 2
    assert main(["up", str(DATA / "up" / "plan-single-qwen3-32b.json"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "Traceback" not in err


def test_watch_reports_a_probable_hang_then_fails_at_the_timeout(monkeypatch):
    from sparkpilot.launcher.watch import Watch

    monkeypatch.setenv("SPARKPILOT_TIME_SCALE", "0.01")
    now = [1000.0]
    dep = Deployment.from_plan(SINGLE, [])
    w = Watch(dep, {}, clock=lambda: now[0], driver_version="590.44.01")
    line = ("(EngineCore_DP0 pid=1) INFO 01-01 00:00:01 [gpu_model_runner.py:1] "
            "Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)")
    events = list(w._line("spark-1", line))
    assert w.phase == "cudagraph_capture" and events[-1].kind == "phase"
    expected = w.expected("cudagraph_capture")
    assert expected == max(dep.eta["cudagraph_capture"], 60.0)       # the plan's figure, floored at 60 s
    now[0] += expected * 1.2
    assert list(w._hang(now[0])) == []
    now[0] += expected * 0.5                                          # past 1.5x: said, not failed
    (stall,) = list(w._hang(now[0]))
    assert stall.kind == "stall" and "590.x" in stall.data["causes"] and w.failure is None
    now[0] += expected * 2                                             # past the default 3x: failed
    kinds = [e.kind for e in w._hang(now[0])]
    assert kinds == ["hang", "failure"] and w.failure.cls == "cudagraph_hang"
    assert any("590" in e for e in w.failure.evidence)


def test_watch_hang_timeout_option(monkeypatch):
    from sparkpilot.launcher.watch import Watch

    now = [0.0]
    w = Watch(Deployment.from_plan(SINGLE, []), {}, hang_timeout=5.0, clock=lambda: now[0])
    list(w._line("n", "INFO 01-01 00:00:01 [default_loader.py:1] Loading safetensors checkpoint shards:   0% Completed | 0/2"))
    assert w.phase == "weight_loading"
    now[0] = 6.0
    kinds = [e.kind for e in w._hang(now[0])]
    assert kinds[-2:] == ["hang", "failure"] and "hang-timeout" in w.failure.line
    assert w.failure.cls == "unrecognised" and "weights are downloading" in w.failure.fix


def test_judge_a_guessing_model_by_its_token_probabilities():
    import math

    chunk = {"choices": [{"delta": {"content": " who"}, "logprobs": {"content": [{"token": " who",
                                                                                  "logprob": math.log(0.02)}]}}]}
    text = "".join(f"data: {json.dumps(chunk)}\n\n" for _ in range(6)) + "data: [DONE]\n"
    answer, _, _, _, probs = readiness.parse_chat_stream_probs(text)
    assert answer == " who" * 6
    assert len(probs) == 6 and abs(probs[0] - 0.02) < 1e-9
    verdict = judge("who test engine one real does", probs)
    assert not verdict.ok and "guessing" in verdict.reason
    assert judge("The simulated Spark answered from a real vLLM engine.", [0.98] * 10).ok
    assert judge("The simulated Spark answered.", None).ok                  # no logprobs: the text decides


def test_plan_mounts_a_hub_snapshot_with_its_blobs():
    from sparkpilot.planner.launch import local_model_mount

    ref, mount = local_model_mount("/h/.cache/huggingface/hub/models--o--m/snapshots/abc/")
    assert ref == "/models/models--o--m/snapshots/abc"
    assert mount == "/h/.cache/huggingface/hub/models--o--m:/models/models--o--m:ro"
    assert local_model_mount("/data/my-model") == ("/models/my-model", "/data/my-model:/models/my-model:ro")


def test_watch_warns_before_a_short_hang_timeout():
    from sparkpilot.launcher.watch import Watch

    now = [0.0]
    w = Watch(Deployment.from_plan(SINGLE, []), {}, hang_timeout=8.0, clock=lambda: now[0])
    now[0] = 5.0
    assert [e.kind for e in w._hang(now[0])] == ["stall"]     # half the timeout: probable hang, said
    now[0] = 9.0
    assert [e.kind for e in w._hang(now[0])] == ["hang", "failure"]


def test_ctrl_c_while_an_event_is_shown_still_removes_the_deployment():
    """The interrupt can reach `up`'s caller while it shows an event (outside events()): the caller's
    up.interrupted() removes every container; a generator closed unfinished does it silently."""
    from sparkpilot.launcher.up import Up, UpOptions

    for how in ("interrupted", "closed"):
        node = FakeDockerNode()
        up = Up(Deployment.from_plan(SINGLE, [], name="x"), {0: node}, UpOptions(preflight=False, sync=False))
        gen = up.events()
        for ev in gen:
            if ev.kind == "container":   # Ctrl-C lands here, in the caller
                break
        assert node.running
        if how == "interrupted":
            evs = list(up.interrupted())
            assert [e.kind for e in evs][-2:] == ["teardown", "done"] and evs[-1].data["exit"] == 130
            assert evs[-2].data["removed"] == ["sparkpilot-x"] and list(up.interrupted()) == []
        gen.close()   # no second teardown, no "generator ignored GeneratorExit"
        assert not node.running
        assert sum(a[:3] == ["docker", "rm", "-f"] for a in node.argvs) == 1


def test_ray_formation_asks_ray_status_from_the_heads_start_on_and_never_holds_the_loop():
    """`ray status` (seconds of CPU on a loaded node) is asked in the background, once the head's
    Ray runtime started (before, it cannot answer), one at a time while GPUs are short, and at once
    when the last node says it started, even with a question out (asked before that node joined)."""
    import threading

    from sparkpilot.launcher.executors import RayFormation

    now = [0.0]
    answers = {1: 1.0, 2: 1.0, 3: 3.0}
    calls = []
    gates = {1: threading.Event(), 2: threading.Event(), 3: threading.Event()}

    def status(runner, container):
        calls.append((runner, container))
        n = len(calls)
        gates[n].wait(5)
        return answers[n]

    f = RayFormation("head-runner", "sparkpilot-ray", ["a", "b", "c"], clock=lambda: now[0], status=status)  # type: ignore[arg-type]
    f.line("b", "SUCC scripts.py:1251 -- Ray runtime started.")
    assert f.poll() is None and f.asked == 0                # the head's GCS is not up: not asked
    f.line("a", "2026-07-23 22:30:01,000\tSUCC scripts.py:1085 -- Ray runtime started.")
    assert f.poll() is None and f.asked == 1                # asked, in a thread: poll returns at once
    now[0] += RayFormation.RETRY_S
    assert f.poll() is None and f.asked == 1                # one question at a time
    gates[1].set()
    f.join()
    assert f.poll() is None                                  # 1 GPU of 3: not formed yet
    assert f.asked == 2                                      # and asked again, RETRY_S after the last
    f.line("c", "SUCC scripts.py:1251 -- Ray runtime started.")
    assert f.poll() is None and f.asked == 3                # the last node joined: asked at once
    gates[3].set()
    f._threads[2].join(5)
    assert f.poll() == 3.0 and f.formed                      # formed on the new answer, the older still out
    gates[2].set()
    f.join()
    assert f.poll() is None and f.asked == 3                 # said once, nothing asked after


def test_ray_formation_says_formed_once_every_gpu_is_in():
    from sparkpilot.launcher.executors import RayFormation

    now = [0.0]
    f = RayFormation("r", "c", ["a", "b"], clock=lambda: now[0], status=lambda r, c: 2.0)  # type: ignore[arg-type]
    f.line("a", "Ray runtime started.")
    f.line("b", "Ray runtime started.")
    assert f.poll() is None and f.asked == 1
    f.join()
    assert f.poll() == 2.0 and f.formed
    assert f.poll() is None                                  # said once


def test_ray_formation_settles_at_ready_when_health_came_first():
    """/health answered while formation was not yet seen (the workers' `ray start` said nothing yet):
    up asks until every GPU is in (a real vLLM on Ray is ready only then), or says how many it saw."""
    from sparkpilot.launcher.executors import RayFormation

    answers = iter([1.0, 1.0, 2.0])
    now = [0.0]
    f = RayFormation("r", "c", ["a", "b"], clock=lambda: now[0],  # type: ignore[arg-type]
                     status=lambda r, c: next(answers))

    def tick(s: float) -> None:
        f.join()
        now[0] += s

    assert f.settle(30.0, sleep=tick) == 2.0 and f.formed and f.asked == 3
    short = RayFormation("r", "c", ["a", "b"], clock=lambda: now[0],  # type: ignore[arg-type]
                         status=lambda r, c: 1.0)

    def tick2(s: float) -> None:
        short.join()
        now[0] += s

    assert short.settle(2.0, sleep=tick2) is None and not short.formed and short.short == 1.0


def test_ray_formation_falls_back_to_asking_when_the_logs_never_say_it():
    from sparkpilot.launcher.executors import RayFormation

    now = [0.0]
    f = RayFormation("r", "c", ["a", "b"], clock=lambda: now[0], status=lambda r, c: 2.0)  # type: ignore[arg-type]
    assert f.poll() is None and f.asked == 0
    now[0] = RayFormation.FALLBACK_S
    f.poll()
    f.join()
    assert f.poll() == 2.0


class SlowAptNode:
    """The recorded Spark (replay://single) with the simulated cluster's 590 packages (not held, no
    apt hold: reconstructed, tests/sim/data/SOURCES.md) and an `apt-mark showhold` that answers only
    once `release` is set (on a real host it loads the whole apt cache, ~1.1 s)."""

    name = "spark"
    recorded = True

    def __init__(self):
        import threading

        from sparkpilot.transport import connect

        self.replay = connect("replay://single")
        self.release = threading.Event()
        self.batches: list[list[list[str]]] = []

    def run(self, argv, timeout=10.0):
        from sparkpilot.transport.base import CommandResult

        argv = list(argv)
        if argv == ["apt-mark", "showhold"]:
            assert self.release.wait(30)
            return CommandResult(0, (SIM_DATA / "apt-holds" / "none.txt").read_text(), "", 1.1)
        if argv[0] == "dpkg-query":
            return CommandResult(0, (SIM_DATA / "packages" / "gb10-590.txt").read_text(), "", 0.08)
        return self.replay.run(argv, timeout=timeout)

    def run_many(self, argvs, timeout=10.0):
        self.batches.append([list(a) for a in argvs])
        return [self.run(a, timeout) for a in argvs]


SIM_DATA = Path(__file__).resolve().parent.parent / "sim" / "data"


def test_preflight_does_not_wait_for_apt_mark_and_says_driver_held_once_it_is_back():
    """Pre-flight waits only for the probes its blocking checks read: `apt-mark showhold` (only
    driver-held, advisory, reads it) runs beside them, and advisory() says driver-held's warning."""
    from sparkpilot.launcher.preflight import Preflight
    from sparkpilot.launcher.up import UpOptions

    node = SlowAptNode()
    pf = Preflight(Deployment.from_plan(SINGLE, [], name="x"), {0: node}, UpOptions(force=True))
    early = list(pf.run())   # returns although apt-mark has not answered
    main = next(b for b in node.batches if ["nvidia-smi", "-q", "-d", "PERFORMANCE"] in b)
    assert ["apt-mark", "showhold"] not in main and ["sh", "-c", 'cat "${SPARKPILOT_HOST_ROOT:-}"/proc/meminfo'] in main
    assert [t.is_alive() for _, t, _ in pf._deferred] == [True]
    assert not any(e.data.get("name") == "driver-held" for e in early)
    assert pf.driver_version == "580.126.09"   # the blocking driver check ran on the recorded nvidia-smi
    node.release.set()
    late = [(e.data["name"], e.data["status"]) for e in pf.advisory()]
    assert ("driver-held", "warn") in late and not set(dict(late)) & set(BLOCKING_CHECKS)


BLOCKING_CHECKS = ("driver-version", "page-cache", "memory-budget", "gpu-idle", "mtu-match", "peer-reachable")


@pytest.mark.parametrize("recording", ["single", "pair", "busy", "broken"])
def test_preflight_needed_probes_give_the_blocking_checks_what_all_probes_give(recording):
    """The blocking checks on the recorded Sparks come out the same from pre-flight's NEEDED probes
    as from every probe doctor runs (so what is left for later cannot change a blocking verdict)."""
    from sparkpilot import checks, facts
    from sparkpilot.inventory import from_hosts
    from sparkpilot.launcher.preflight import BLOCKING, NEEDED
    from sparkpilot.probes import PROBES

    assert BLOCKING == BLOCKING_CHECKS
    hosts = [n.ssh for n in from_hosts([f"replay://{recording}"]).nodes]

    def blocking(skip):
        from sparkpilot.transport import connect

        ev = checks.evaluate(facts.collect([connect(h) for h in hosts], ping=len(hosts) > 1, skip=skip))
        return [(r.host, r.name, r.status, r.message) for r in ev.all_results() if r.name in BLOCKING]

    every = blocking(())
    assert every == blocking(tuple(p for p in PROBES if p not in NEEDED))
    assert {s for _, _, s, _ in every} - {"unknown", "skip"}   # something was judged
def test_watch_asks_health_at_once_when_the_log_says_startup_complete():
    """/health is asked every 0.5 s from the API server's first line, and at once on "Application
    startup complete" (not up to 0.5 s later). With the watch's clock stopped, only that line can
    bring the second question: the watch returns ready instead of waiting forever."""
    import threading

    from sparkpilot.launcher.watch import Watch
    from sparkpilot.transport.base import CommandResult

    asked = threading.Event()
    lines = ["INFO 01-01 00:00:01 [api_server.py:1] Starting vLLM API server 0 on http://0.0.0.0:8000",
             "INFO:     Application startup complete."]

    class Node:
        name, recorded = "n", False
        up = False
        health_calls = 0

        def stream(self, argv):
            stopped = threading.Event()

            class S:
                def __iter__(s):
                    yield lines[0] + "\n"
                    assert asked.wait(10)         # the first /health question came (and failed)
                    self.up = True
                    yield lines[1] + "\n"
                    stopped.wait(10)              # the container keeps running until the watch stops

                def stop(s):
                    stopped.set()
            return S()

        def run(self, argv, timeout=10.0):
            if argv[0] == "curl":
                self.health_calls += 1
                asked.set()
                return CommandResult(0, "200" if self.up else "000", "", 0.0)
            return CommandResult(0, "running 0", "", 0.0)

    node = Node()
    w = Watch(Deployment.from_plan(SINGLE, [], name="x"), {0: node}, clock=lambda: 100.0)  # type: ignore[dict-item]
    out: list = []
    t = threading.Thread(target=lambda: out.extend(w.run()), daemon=True)
    t.start()
    t.join(15)
    assert not t.is_alive() and out[-1].kind == "ready" and node.health_calls == 2


def test_watch_says_the_ready_phase_when_health_answers_before_the_log_line():
    """vLLM's socket is bound early: /health can answer before "Application startup complete" has come
    through `docker logs` over ssh. The ready phase is then said from /health (phases.py counts a
    200 on /health as ready), so the phases still end with ready."""
    import threading

    from sparkpilot.launcher.watch import Watch
    from sparkpilot.transport.base import CommandResult

    stopped = threading.Event()

    class Node:
        name, recorded = "n", False

        def stream(self, argv):
            class S:
                def __iter__(s):
                    yield "INFO 01-01 00:00:01 [api_server.py:1] Starting vLLM API server 0 on http://0.0.0.0:8000\n"
                    stopped.wait(10)

                def stop(s):
                    stopped.set()
            return S()

        def run(self, argv, timeout=10.0):
            return CommandResult(0, "200" if argv[0] == "curl" else "running 0", "", 0.0)

    w = Watch(Deployment.from_plan(SINGLE, [], name="x"), {0: Node()}, clock=lambda: 100.0)  # type: ignore[dict-item]
    out: list = []
    t = threading.Thread(target=lambda: out.extend(w.run()), daemon=True)
    t.start()
    t.join(15)
    assert [(e.kind, e.phase) for e in out if e.kind in ("phase", "ready")][-2:] == [("phase", "ready"), ("ready", None)]
    assert out[-2].data["by"] == "/health" and w.phase == "ready"


def runs(node) -> int:
    """How many `docker run` the fake node was sent (up sends it after `mkdir -p` in one sh -c)."""
    return sum(a[:2] == ["docker", "run"] or a[5:7] == ["docker", "run"] for a in node.argvs)


def _restarting_up(monkeypatch, policy, classes):
    """An Up on a fake node whose start fails before ready with each class of `classes` in turn
    (then is ready), with --restart `policy`; the supervisor's start recorded, not run."""
    from sparkpilot.diagnosis.signatures import Failure
    from sparkpilot.launcher import supervisor
    from sparkpilot.launcher.events import LaunchFailed
    from sparkpilot.launcher.up import Up, UpOptions

    monkeypatch.setenv("SPARKPILOT_TIME_SCALE", "0.001")
    started = []
    monkeypatch.setattr(supervisor, "start", lambda dep, policy, restarts=0: iter(started.append(restarts) or []))
    todo = list(classes)

    def watch(self):
        yield Event("phase", "weight loading", phase="weight_loading")
        if todo:
            cls = todo.pop(0)
            raise LaunchFailed(f"{cls}: it died", failure=Failure(cls=cls, line="x", message="it died", fix="f",
                                                                  prevented_by=[]))

    monkeypatch.setattr(Up, "_watch", watch)
    monkeypatch.setattr(Up, "_ready", lambda self: iter([Event("ready", "ready")]))
    node = FakeDockerNode()
    up = Up(Deployment.from_plan(SINGLE, [], name="x"), {0: node},
            UpOptions(preflight=False, sync=False, restart=policy))
    return up, node, started


def test_restart_during_loading_restarts_the_whole_deployment(monkeypatch):
    """--restart on-failure:2 and a rank that dies before ready (unrecognised: killed): every
    container removed and started again, the reason said; the restart counts for the supervisor."""
    up, node, started = _restarting_up(monkeypatch, "on-failure:2", ["unrecognised"])
    events = list(up.events())
    sup = [e for e in events if e.kind == "supervisor"]
    assert len(sup) == 1 and sup[0].data["restart"] == 1 and "unrecognised" in sup[0].message
    assert "every container on every node" in sup[0].message and "SPU020" in sup[0].data["why"]
    assert runs(node) == 2
    assert sum(a[:3] == ["docker", "rm", "-f"] for a in node.argvs) == 1 and node.running
    assert events[-1].data["outcome"] == "ready" and started == [1]


def test_restart_during_loading_stops_on_a_deterministic_failure_or_the_limit(monkeypatch):
    """An OOM at start will not fix itself: said, no restart, torn down. A class that may pass is
    restarted at most N times."""
    from sparkpilot.launcher.events import LaunchFailed

    for policy, classes, restarts, said in (("on-failure", ["oom_at_startup"], 0, "oom_at_startup will not fix"),
                                            ("on-failure:1", ["worker_lost", "worker_lost"], 1, "the limit")):
        up, node, started = _restarting_up(monkeypatch, policy, classes)
        events = []
        with pytest.raises(LaunchFailed):
            for ev in up.events():
                events.append(ev)
        sup = [e for e in events if e.kind == "supervisor"]
        assert len(sup) == restarts + 1 and said in sup[-1].message, [e.message for e in sup]
        assert runs(node) == restarts + 1
        assert not node.running and events[-1].data["outcome"] == "failed" and started == []


def test_without_restart_a_failure_during_loading_tears_down(monkeypatch):
    from sparkpilot.launcher.events import LaunchFailed

    up, node, _ = _restarting_up(monkeypatch, None, ["unrecognised"])
    events: list[Event] = []
    with pytest.raises(LaunchFailed):
        events.extend(up.events())
    assert not node.running and runs(node) == 1
    assert not any(e.kind == "supervisor" for e in events)


class ConfigNode(FakeDockerNode):
    """A node whose Hugging Face cache holds the model's config.json (what pre-flight reads)."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = config

    def run(self, argv, timeout=60.0):
        from sparkpilot.launcher.preflight import CAT_CONFIG
        from sparkpilot.transport.base import CommandResult

        if list(argv[:-1]) == CAT_CONFIG:
            self.argvs.append(list(argv))
            return CommandResult(0, json.dumps(self.config), "", 0.0)
        return super().run(argv, timeout)


def test_preflight_refuses_a_plan_file_edited_past_the_models_positions():
    """The plan file says --max-model-len 131072; the model's config.json on the head says 40960
    positions: pre-flight's lint refuses it (SPL017), as plan would. With VLLM_ALLOW_LONG_MAX_MODEL_LEN=1
    in the launch it is a warning. The config is read from the node's Hub cache."""
    from sparkpilot.launcher.preflight import Preflight
    from sparkpilot.launcher.up import UpOptions

    config = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "max_position_embeddings": 40960,
              "hidden_size": 5120, "num_hidden_layers": 64, "num_attention_heads": 64, "num_key_value_heads": 8}
    for allow in (False, True):
        plan = copy.deepcopy(SINGLE)
        run = plan["launch"]["nodes"][0]["docker_run"]
        run[run.index("--max-model-len") + 1] = "131072"
        if allow:
            run[run.index("HF_TOKEN") + 1:run.index("HF_TOKEN") + 1] = ["-e", "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1"]
        node = ConfigNode(config)
        pf = Preflight(Deployment.from_plan(plan, [], name="x"), {0: node}, UpOptions())
        errors: list[str] = []
        events = [e for e in pf.lint(errors) if e.data.get("id") == "SPL017"]
        read = [a[-1] for a in node.argvs if a[0] == "sh"]
        assert read == ["@HOME@/.cache/huggingface/hub/models--Qwen--Qwen3-32B/snapshots/*"]
        assert len(events) == 1 and "131072 is above the model's 40960 positions" in events[0].message
        assert events[0].data["status"] == ("warn" if allow else "fail")
        assert bool([e for e in errors if "SPL017" in e]) is not allow


def test_cluster_gpus_asks_the_gcs_and_falls_back_to_ray_status_for_a_ray_without_its_client():
    from sparkpilot.launcher.executors import cluster_gpus
    from sparkpilot.transport.base import CommandResult

    class Head:
        def __init__(self, gcs_rc, gcs_out):
            self.gcs_rc, self.gcs_out, self.asked = gcs_rc, gcs_out, []

        def run(self, argv, timeout=10.0):
            self.asked.append(argv[3])
            if argv[3] == "python3":
                return CommandResult(self.gcs_rc, self.gcs_out, "", 0.1)
            return CommandResult(0, "Resources\n---\n 0.0/2.0 GPU\n", "", 0.1)   # ray status

    head, gcs = Head(0, "GCS GPU total: 2.0 nodes: 2\n"), [True]
    assert cluster_gpus(head, "sparkpilot-ray", gcs) == 2.0 and head.asked == ["python3"]  # type: ignore[arg-type]
    head, gcs = Head(1, ""), [True]            # the GCS not up yet: not formed, still asked there next time
    assert cluster_gpus(head, "sparkpilot-ray", gcs) is None and gcs == [True]  # type: ignore[arg-type]
    head, gcs = Head(3, ""), [True]            # this image's Ray lacks the client: `ray status` from now on
    assert cluster_gpus(head, "sparkpilot-ray", gcs) == 2.0 and gcs == [False]  # type: ignore[arg-type]
    assert cluster_gpus(head, "sparkpilot-ray", gcs) == 2.0 and head.asked == ["python3", "ray", "ray"]  # type: ignore[arg-type]
