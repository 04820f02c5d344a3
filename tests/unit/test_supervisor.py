"""The supervisor after ready (supervisor_loop.main) on a fake node's docker: SPU020 applied to the
exited rank's log (a failure that will not fix itself is not restarted), and HF_TOKEN handed to the
restarts through a 0600 file in this machine's state dir, never on a command line or in its log."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fake_docker import FakeDockerNode

from sparkpilot.launcher import state, supervisor, supervisor_loop
from sparkpilot.launcher.events import Event

DATA = Path(__file__).resolve().parent.parent / "data"
SINGLE = json.loads((DATA / "up" / "plan-single-qwen3-32b.json").read_text())
TOKEN = "hf_SupervisorTokenNeverShown0123456789"   # the shape of a Hugging Face token; fake


class CrashingNode(FakeDockerNode):
    """A node whose container of deployment x exits at once after every start (inspect says exited),
    its log `log`; ps, run, rm -f, logs, curl /health, printenv HOME, write_bytes as up asks them."""

    ps_state, ps_status = "exited", "Exited (137)"

    def __init__(self, log: str):
        super().__init__()
        self.log = log
        self.written: list[tuple[str, bytes, int | None]] = []

    def more(self, argv):
        if argv[:3] == ["docker", "inspect", "--format"]:
            return "exited 137" if "{{.State.Status}}" in argv[3] else "false"
        if argv[:3] == ["docker", "logs", "--timestamps"]:
            return self.log
        if argv[0] == "curl":
            return "200"
        return None

    def write_bytes(self, remote, data, mode=None):
        self.written.append((remote, data, mode))

    def close(self):
        pass


def _supervised(monkeypatch, tmp_path, log: str, policy: str = "on-failure:1") -> CrashingNode:
    """State of a ready deployment x on one fake node, the supervisor's waits made instant; up's
    follow-until-ready and smoke chat replaced (they have their own tests)."""
    import sparkpilot.transport
    from sparkpilot.launcher.up import Up

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setenv("SPARKPILOT_TIME_SCALE", "0.001")
    monkeypatch.setenv("HF_TOKEN", "x")
    monkeypatch.delenv("HF_TOKEN")   # restored (absent) after the test: the supervisor sets it
    monkeypatch.setattr(supervisor_loop, "CHECK_EVERY_S", 0.0)
    monkeypatch.setattr(Up, "_watch", lambda self: iter([Event("ready", "/health answers")]))
    monkeypatch.setattr(Up, "_ready", lambda self: iter([Event("ready", "ready")]))
    node = CrashingNode(log)
    node.running = True
    monkeypatch.setattr(sparkpilot.transport, "connect", lambda host, *a, **k: node)
    state.save("x", {"plan": SINGLE, "hosts": [], "restart": policy, "restarts": 0})
    return node


def runs(node) -> list[list[str]]:
    return [a[5:] for a in node.argvs if a[:2] == ["sh", "-c"] and a[5:7] == ["docker", "run"]]


@pytest.mark.parametrize("logfile, cls", [("logs_unseen/221.log", "oom_at_startup"),
                                          ("logs_unseen/220.log", "cli_unrecognized_argument")])
def test_a_rank_that_exits_with_a_failure_that_will_not_fix_itself_is_not_restarted(
        monkeypatch, tmp_path, capsys, logfile, cls):
    """SPU020 after ready too: the exited rank's log diagnosed (real logs from public reports),
    a deterministic class said and the deployment removed, no docker run, the supervisor stopped."""
    node = _supervised(monkeypatch, tmp_path, (DATA / logfile).read_text(), policy="on-failure")
    state.save_token("x", TOKEN)
    assert supervisor_loop.main(["x"]) == 0
    out = capsys.readouterr().out
    assert f"not restarting: {cls} will not fix itself" in out and "(SPU020)" in out, out
    assert runs(node) == [] and not node.running
    assert sum(a[:3] == ["docker", "rm", "-f"] for a in node.argvs) == 1
    assert out.rstrip().endswith("supervisor stopped") and not state.token_path("x").exists()
    stopped = (state.load("x") or {})["supervisor"]["stopped"]   # for `status`: why it stopped
    assert f"{cls} will not fix itself" in stopped and "SPU020" in stopped


def test_a_killed_rank_is_restarted_whole_with_hf_token_by_the_env_file(monkeypatch, tmp_path, capsys):
    """No error line (a killed rank) may pass: every container removed and started again; the
    restart's docker run reads HF_TOKEN from the node's 0600 env file (from up's token file), the
    token in no argv and not in the supervisor's log. The second exit is past on-failure:1."""
    node = _supervised(monkeypatch, tmp_path, "INFO 01-01 00:00:01 [api_server.py:1] Starting vLLM API server\n")
    state.save_token("x", TOKEN)
    assert supervisor_loop.main(["x"]) == 0
    out = capsys.readouterr().out
    assert "unrecognised may pass" in out and "restarting every container on every node" in out, out
    assert len(runs(node)) == 1
    run = runs(node)[0]
    env_file = run[run.index("--env-file") + 1]
    assert node.written == [(env_file, f"HF_TOKEN={TOKEN}\n".encode(), 0o600)]
    assert ["rm", "-f", env_file] in node.argvs   # removed after docker run, as up does
    assert all(TOKEN not in " ".join(a) for a in node.argvs) and TOKEN not in out
    assert "1 restart(s) done, the limit" in out and not node.running
    assert not state.token_path("x").exists()
    sup = (state.load("x") or {})["supervisor"]   # for `status`: restarts, the last reason, the stop
    assert sup["restarts"] == 1 and "container exited (exit 137)" in sup["last_restart"]
    assert "1 restart(s) done, the limit" in sup["stopped"] and TOKEN not in json.dumps(sup)


def test_without_a_token_file_the_restart_has_no_env_file(monkeypatch, tmp_path, capsys):
    node = _supervised(monkeypatch, tmp_path, "")
    assert supervisor_loop.main(["x"]) == 0
    assert len(runs(node)) == 1 and "--env-file" not in runs(node)[0] and node.written == []
    assert "HF_TOKEN" not in os.environ


def test_up_writes_the_token_file_0600_for_the_supervisor_and_down_removes_it(monkeypatch, tmp_path):
    """supervisor.start: HF_TOKEN to a 0600 file in the state dir (not in the detached command);
    nothing written without HF_TOKEN; `down` removes it."""
    from sparkpilot.cli import down
    from sparkpilot.cli.main import main
    from sparkpilot.launcher.deployment import Deployment
    from sparkpilot.transport.detached import Detached
    from sparkpilot.transport.local import LocalRunner

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    started: list[list[str]] = []

    def detached(self, argv, unit):
        started.append(list(argv))
        return Detached(self, unit, "setsid", None)

    monkeypatch.setattr(LocalRunner, "start_detached", detached)
    dep = Deployment.from_plan(SINGLE, [], name="x")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    state.save_token("x", "hf_AnEarlierDeploymentsToken012345")   # left by a supervisor killed without down
    list(supervisor.start(dep, "on-failure"))
    assert not state.token_path("x").exists()
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    old = os.umask(0)   # even with a permissive umask the file is never readable by others
    try:
        list(supervisor.start(dep, "on-failure:2"))
    finally:
        os.umask(old)
    path = state.token_path("x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and state.load_token("x") == TOKEN
    assert all(TOKEN not in " ".join(a) for a in started) and TOKEN not in state.path("x").read_text()
    node = CrashingNode("")
    monkeypatch.setattr(down, "runners_for", lambda nodes: [("n", node)])
    monkeypatch.setattr(down, "close", lambda runners: None)
    assert main(["down", "x"]) == 0
    assert not path.exists()
