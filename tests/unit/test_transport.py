"""Transport: host specs, the local runner, and how ssh's complaints become one line.

The ssh stderr texts below are real: OpenSSH_9.2p1 Debian-2+deb12u10 (`ssh -o BatchMode=yes
-o LogLevel=ERROR ...`) against the simulated cluster (tests/sim), recorded 2026-11-29.
The ssh runner itself is tested for real in tests/integration/test_transport_ssh.py.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

import pytest

from sparkpilot.errors import UsageError
from sparkpilot.transport import HostSpec, connect, parse_host_spec
from sparkpilot.transport.local import LocalRunner
from sparkpilot.transport.ssh import SshRunner, ssh_reason

# -- host specs -------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, expected", [
    ("spark-1", HostSpec("spark-1")),
    ("nvidia@spark-1", HostSpec("spark-1", "nvidia")),
    ("nvidia@spark-1:2222", HostSpec("spark-1", "nvidia", 2222)),
    ("ssh://nvidia@192.168.100.10:22", HostSpec("192.168.100.10", "nvidia", 22)),
    ("ssh://spark-2", HostSpec("spark-2")),
    ("ssh://spark-2/", HostSpec("spark-2")),
    ("first.last@spark-1.lan", HostSpec("spark-1.lan", "first.last")),
    ("root@[fe80::1%enP7s7]:2200", HostSpec("fe80::1%enP7s7", "root", 2200)),
    ("fd00::10", HostSpec("fd00::10")),
    ("  nvidia@spark-1  ", HostSpec("spark-1", "nvidia")),
])
def test_parse_host_spec(spec, expected):
    assert parse_host_spec(spec) == expected


@pytest.mark.parametrize("spec", [
    "", "   ", "@spark-1", "nvidia@", "nvidia@spark-1:", "nvidia@spark-1:0", "nvidia@spark-1:65536",
    "nvidia@spark-1:ssh", "-oProxyCommand=touch /tmp/x", "nvidia@-oProxyCommand=x", "spark 1",
    "http://spark-1", "nvidia@spark-1/x", "bad user@spark-1", "root@[fe80::1", "root@[zz::1]:22",
    "a;b", "$(reboot)",
])
def test_malformed_host_spec_is_usage_error(spec):
    with pytest.raises(UsageError) as err:
        parse_host_spec(spec)
    assert "\n" not in str(err.value)


def test_host_spec_str_round_trips():
    for spec in ("nvidia@spark-1:2222", "spark-1", "root@[fe80::1]:22"):
        assert parse_host_spec(str(parse_host_spec(spec))) == parse_host_spec(spec)


def test_connect_picks_the_runner():
    assert isinstance(connect("local"), LocalRunner)
    runner = connect("nvidia@spark-1:2222", timeout=3)
    assert isinstance(runner, SshRunner) and runner.name == "nvidia@spark-1:2222"
    with pytest.raises(UsageError):
        connect("nvidia@")
    with pytest.raises(UsageError):
        connect("replay://")


def test_connect_replay_is_the_recorded_host():
    from sparkpilot.transport.replay import ReplayRunner

    runner = connect("replay://pair/spark-a")
    assert isinstance(runner, ReplayRunner)
    with pytest.raises(UsageError):
        connect("replay://no-such-recording")


def test_ssh_command_line_checks_host_keys_and_never_prompts(tmp_path):
    runner = SshRunner("nvidia@spark-1:2222", connect_timeout=4, ssh_config=str(tmp_path / "cfg"))
    argv = runner.ssh_argv("-T", command="nvidia-smi -L")
    text = " ".join(argv)
    assert argv[:3] == ["ssh", "-F", str(tmp_path / "cfg")]
    assert "BatchMode=yes" in text and "ConnectTimeout=4" in text and "ControlMaster=auto" in text
    assert "StrictHostKeyChecking" not in text  # the user's setting (default: ask -> refused in batch)
    assert argv[-3:] == ["--", "nvidia@spark-1", "nvidia-smi -L"] and argv[argv.index("-p") + 1] == "2222"
    control = next(a for a in argv if a.startswith("ControlPath="))
    assert len(control) < 100  # unix socket paths are limited
    runner.close()


# -- ssh's reasons, one line each ---------------------------------------------------------------

SPEC = parse_host_spec("root@10.77.0.1")
CHANGED = (
    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
    "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
    "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"
    "Someone could be eavesdropping on you right now (man-in-the-middle attack)!\n"
    "It is also possible that a host key has just been changed.\n"
    "The fingerprint for the ED25519 key sent by the remote host is\n"
    "SHA256:R28nCciIKEzDtVJjOhDtFyA71gYqFov0UFfpxpgBhKk.\n"
    "Please contact your system administrator.\n"
    "Add correct host key in /tmp/spk0-vmztulj4/kh2 to get rid of this message.\n"
    "Offending ED25519 key in /tmp/spk0-vmztulj4/kh2:2\n"
    "  remove with:\n"
    '  ssh-keygen -f "/tmp/spk0-vmztulj4/kh2" -R "10.77.0.1"\n'
    "Host key for 10.77.0.1 has changed and you have requested strict checking.\n"
    "Host key verification failed.\n"
)


@pytest.mark.parametrize("stderr, must", [
    ("bob@10.77.0.1: Permission denied (publickey).\n", ["authentication failed", "Permission denied (publickey)", "user name"]),
    ("No ED25519 host key is known for 10.77.0.1 and you have requested strict checking.\n"
     "Host key verification failed.\n", ["not known", "ssh-keyscan 10.77.0.1 >> ~/.ssh/known_hosts"]),
    ("Host key verification failed.\n", ["not known", "ssh root@10.77.0.1"]),
    (CHANGED, ["CHANGED", "ssh-keygen -R 10.77.0.1"]),
    ("ssh: connect to host 10.77.0.2 port 22: Connection refused\n", ["connect to host 10.77.0.2 port 22: Connection refused"]),
    ("ssh: connect to host 10.77.0.77 port 22: Connection timed out\n", ["Connection timed out"]),
    ("ssh: Could not resolve hostname no-such-host.invalid: Name or service not known\n",
     ["Could not resolve hostname no-such-host.invalid"]),
    ("", ["255"]),
])
def test_ssh_reason_is_one_line(stderr, must):
    reason = ssh_reason(stderr, SPEC)
    assert "\n" not in reason and not reason.startswith("ssh: ")
    for text in must:
        assert text in reason


# -- local runner ---------------------------------------------------------------------------------


def test_local_runs_argv_without_a_shell():
    res = LocalRunner().run([sys.executable, "-c", "import sys; print(sys.argv[1:])", "a b", "$HOME", ";"])
    assert res.rc == 0 and res.ok and res.stdout.strip() == "['a b', '$HOME', ';']"
    assert res.seconds > 0


def test_local_exit_code_and_stderr():
    res = LocalRunner().run([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])
    assert (res.rc, res.stdout, res.stderr, res.ok) == (3, "", "boom", False)


def test_local_timeout_is_rc_124_with_a_note_and_kills_children(tmp_path):
    pidfile = tmp_path / "child"
    res = LocalRunner().run(["sh", "-c", f"sleep 30 & echo $! > {pidfile}; sleep 30; echo never"], timeout=0.5)
    assert res.rc == 124 and "timed out after 0.5s" in res.stderr and "never" not in res.stdout
    child = int(pidfile.read_text())
    for _ in range(50):   # the background child was killed with its group (wait until it is reaped)
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        stat = Path(f"/proc/{child}/stat")
        if not stat.exists() or stat.read_text().split()[2] == "Z":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the child outlived the timeout")


def test_local_missing_command_is_127():
    res = LocalRunner().run(["sparkpilot-no-such-tool", "--version"])
    assert res.rc == 127 and "command not found" in res.stderr


def test_local_not_executable_is_126(tmp_path):
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    res = LocalRunner().run([str(script)])
    assert res.rc == 126


def test_local_empty_argv_is_a_bug():
    with pytest.raises(ValueError):
        LocalRunner().run([])


# -- several commands in one round trip (the script runs here under the real sh) -------------------

def test_batch_script_runs_everything_and_frames_any_output():
    from sparkpilot.transport import batch

    argvs = [
        ["printf", "no newline"],
        ["sh", "-c", "echo out; echo err >&2; exit 3"],
        ["printf", "@@SPARKPILOT-fake 0 0 0 0\\n"],           # output that looks like a frame
        ["sh", "-c", "head -c 3000 /dev/zero | tr '\\0' 'x'"],
        ["sparkpilot-no-such-tool"],
        ["sleep", "30"],
    ]
    token = batch.new_token()
    res = LocalRunner().run(["sh", "-c", batch.script(argvs, 1, token)], timeout=20)
    assert res.rc == 0   # the script ended by itself: its watchdog stopped the sleeper (rc 124 below)
    out = batch.parse(res.stdout.encode(), len(argvs), token, 0.1)
    assert out[0].stdout == "no newline" and out[0].rc == 0
    assert (out[1].rc, out[1].stdout, out[1].stderr) == (3, "out\n", "err\n")
    assert out[2].stdout == "@@SPARKPILOT-fake 0 0 0 0\n"
    assert out[3].stdout == "x" * 3000
    assert out[4].rc == 127
    assert out[5].rc == 124


def test_run_many_falls_back_to_run_for_runners_without_it():
    from sparkpilot.transport.batch import run_many

    res = run_many(LocalRunner(), [["echo", "a"], ["sh", "-c", "exit 4"]], timeout=5)
    assert [(r.rc, r.stdout) for r in res] == [(0, "a\n"), (4, "")]
    assert run_many(LocalRunner(), []) == []


def test_batch_parse_missing_frames_are_none():
    from sparkpilot.transport import batch

    assert batch.parse(b"garbage", 2, "SPARKPILOT-x", 0.0) == [None, None]


def test_batch_runs_sh_c_scripts_in_its_own_shell_only_when_that_changes_nothing():
    from sparkpilot.transport import batch

    script = 'for f in a b; do echo "$f"; done; exit 4'
    assert batch._command(["sh", "-c", script]).startswith("{ ")
    for uses in ('echo "$1"', "echo $$", "shift; echo x", "trap 'echo t' EXIT"):
        assert batch._command(["sh", "-c", uses]) == shlex.join(["sh", "-c", uses]), uses
    assert batch._command(["sh", "-c", "awk '{print $0}' /dev/null"]).startswith("{ ")  # awk's $0
    token = batch.new_token()
    argvs = [["sh", "-c", script], ["sh", "-c", "d=overwritten; echo $d >&2"], ["echo", "after"]]
    res = LocalRunner().run(["sh", "-c", batch.script(argvs, 5, token)], timeout=20)
    out = batch.parse(res.stdout.encode(), 3, token, 0.1)
    assert [(r.rc, r.stdout, r.stderr) for r in out] == [(4, "a\nb\n", ""), (0, "", "overwritten\n"),
                                                        (0, "after\n", "")]
