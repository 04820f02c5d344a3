"""The ssh runner against real sshd on simulated nodes: commands, exit codes, timeouts, and every
way a host can refuse (off, wrong user, unknown or changed host key, no sshd)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sparkpilot.errors import TransportError
from sparkpilot.transport import connect

pytestmark = pytest.mark.slow


@pytest.fixture
def ssh_env(sim_cluster, monkeypatch):
    monkeypatch.setenv("SPARKPILOT_SSH_CONFIG", sim_cluster.ssh_config)
    return sim_cluster


def node_of(cluster, profile):
    return next(n for n in cluster.nodes if n.profile == profile)


def test_command_output_exit_codes_and_quoting(ssh_env):
    with connect(ssh_env.nodes[0].ssh_spec, timeout=5) as host:
        res = host.run(["printf", "%s|", "a b", "$HOME", "it's", ";", "*"])
        assert res.rc == 0 and res.stdout == "a b|$HOME|it's|;|*|"
        assert host.run(["sh", "-c", "echo oops >&2; exit 7"]).rc == 7
        res = host.run(["sh", "-c", "exit 255"])  # the command's 255, not a transport failure
        assert res.rc == 255
        res = host.run(["sh", "-c", 'cat "${SPARKPILOT_HOST_ROOT:-}/proc/sys/kernel/hostname"'])
        assert res.stdout.strip() == "spark-%d-0" % ssh_env.slot


def test_connection_is_shared(ssh_env):
    with connect(ssh_env.nodes[1].ssh_spec, timeout=5) as host:
        host.run(["true"])
        master = host.master_pid()
        assert master is not None
        for _ in range(10):
            assert host.run(["true"]).ok
        assert host.master_pid() == master   # every command rode the one master: no new handshake


def test_parallel_commands_over_one_connection(ssh_env):
    with connect(ssh_env.nodes[0].ssh_spec, timeout=5) as host:
        with ThreadPoolExecutor(24) as pool:  # more than sshd's MaxSessions (10)
            results = list(pool.map(lambda i: host.run(["echo", str(i)]), range(40)))
        assert [r.stdout.strip() for r in results] == [str(i) for i in range(40)]


def test_command_timeout_is_rc_124_and_host_still_answers(ssh_env):
    with connect(ssh_env.nodes[0].ssh_spec, timeout=5) as host:
        res = host.run(["sleep", "20"], timeout=1)
        assert res.rc == 124 and "timed out after 1s" in res.stderr
        assert host.run(["echo", "still here"]).stdout == "still here\n"


def test_host_that_is_off_fails_fast_with_one_line(ssh_env):
    node = node_of(ssh_env, "unreachable")
    host = connect(node.ssh_spec, timeout=2)
    assert "ConnectTimeout=2" in host.ssh_argv()   # ssh itself gives up after 2 s
    with pytest.raises(TransportError) as err:
        host.run(["true"])
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(node.ssh_spec) and "port 22" in msg
    assert err.value.exit_code == 1


def test_wrong_user_is_an_auth_failure_in_one_line(ssh_env):
    with pytest.raises(TransportError) as err:
        connect(f"nvidia@{ssh_env.nodes[0].mgmt_ip}", timeout=5).run(["true"])
    msg = str(err.value)
    assert "\n" not in msg and "authentication failed" in msg and "Permission denied (publickey)" in msg


def test_unknown_host_key_is_refused(ssh_env, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    node = ssh_env.nodes[0]
    for options in (["UserKnownHostsFile=%s" % empty],  # the cluster's config: StrictHostKeyChecking yes
                    ["UserKnownHostsFile=%s" % empty, "StrictHostKeyChecking=ask"]):  # ssh's default
        with pytest.raises(TransportError) as err:
            connect(node.ssh_spec, timeout=5, options=options).run(["true"])
        msg = str(err.value)
        assert "\n" not in msg and "is not known" in msg and f"ssh-keyscan {node.mgmt_ip}" in msg
    assert empty.read_text() == ""  # nothing was accepted behind the user's back


def test_changed_host_key_is_refused(ssh_env, tmp_path):
    a, b = ssh_env.nodes[0], ssh_env.nodes[1]
    lines = Path(ssh_env.known_hosts).read_text().splitlines()
    key_b = next(ln for ln in lines if ln.startswith(b.mgmt_ip + " ")).split(" ", 1)[1]
    forged = tmp_path / "known_hosts"
    forged.write_text(f"{a.mgmt_ip} {key_b}\n")  # a's address with b's key
    with pytest.raises(TransportError) as err:
        connect(a.ssh_spec, timeout=5, options=[f"UserKnownHostsFile={forged}"]).run(["true"])
    msg = str(err.value)
    assert "\n" not in msg and "CHANGED" in msg and f"ssh-keygen -R {a.mgmt_ip}" in msg


def test_no_sshd_is_connection_refused(sim_factory, monkeypatch):
    cluster = sim_factory(["healthy"], delay_scale=0)
    monkeypatch.setenv("SPARKPILOT_SSH_CONFIG", cluster.ssh_config)
    node = cluster.nodes[0]
    host = connect(node.ssh_spec, timeout=5)
    assert host.run(["true"]).ok
    host.close()
    os.kill(node.pid, signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(TransportError) as err:
        connect(node.ssh_spec, timeout=5).run(["true"])
    assert "Connection refused" in str(err.value)   # refused at once, not a connect timeout


def test_host_that_dies_mid_session_is_a_transport_error(sim_factory, monkeypatch):
    cluster = sim_factory(["healthy"], delay_scale=0)
    monkeypatch.setenv("SPARKPILOT_SSH_CONFIG", cluster.ssh_config)
    node = cluster.nodes[0]
    host = connect(node.ssh_spec, timeout=2)
    assert host.run(["true"]).ok
    for pid in os.popen(f"ip netns pids {node.netns}").read().split():  # sshd and its sessions
        os.kill(int(pid), signal.SIGKILL)
    with pytest.raises(TransportError) as err:
        host.run(["true"], timeout=5)
    assert "\n" not in str(err.value)
    host.close()


def test_run_many_in_one_round_trip_matches_run(ssh_env):
    from sparkpilot.probes import PROBES
    from sparkpilot.transport.batch import run_many

    argvs = [list(p.argv) for p in PROBES.values()] + [["sleep", "20"], ["sh", "-c", "exit 255"]]
    with connect(ssh_env.nodes[0].ssh_spec, timeout=5) as host:
        many = run_many(host, argvs, timeout=2)
        assert many[-2].rc == 124 and many[-1].rc == 255
        for argv, got in zip(argvs[:-2], many[:-2], strict=False):
            one = host.run(argv, timeout=10)
            assert got.rc == one.rc, argv
            text = " ".join(argv)
            live = argv[0] == "ip" or any(w in text for w in ("date", "clock", "ps -eo", "meminfo"))
            if not live:  # live state (addresses, clocks, processes, memory) may change between the two reads
                assert got.stdout == one.stdout, argv


def test_run_many_on_a_host_that_is_off(ssh_env):
    node = node_of(ssh_env, "unreachable")
    with pytest.raises(TransportError):
        connect(node.ssh_spec, timeout=2).run_many([["true"], ["true"]], timeout=2)


def test_run_many_as_first_command_opens_the_shared_connection(ssh_env):
    with connect(ssh_env.nodes[1].ssh_spec, timeout=5) as host:
        first = host.run_many([["echo", "a"], ["sh", "-c", "echo b >&2; exit 3"]], timeout=5)
        assert [(r.rc, r.stdout, r.stderr) for r in first] == [(0, "a\n", ""), (3, "", "b\n")]
        assert host.alive()                      # the batch's own ssh left the master behind
        master = host.master_pid()
        assert host.run(["true"]).ok and host.master_pid() == master is not None   # no new handshake
        control_dir = host._dir
    for _ in range(20):                          # close() stopped the master ("ssh: DIR/... [mux]")
        if subprocess.run(["pgrep", "-f", control_dir], capture_output=True).returncode == 1:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the ssh master outlived close()")


def test_run_many_as_first_command_with_a_wrong_user_is_one_line(ssh_env):
    spec = "nobody-here@" + ssh_env.nodes[0].ssh_spec.split("@")[-1]
    with pytest.raises(TransportError) as err:
        connect(spec, timeout=3).run_many([["true"]], timeout=3)
    assert "authentication failed" in str(err.value) and "\n" not in str(err.value)


def test_one_shot_first_command_needs_no_master(ssh_env):
    with connect(ssh_env.nodes[1].ssh_spec, timeout=5) as host:
        host.one_shot_first = True
        res = host.run_many([["echo", "alone"], ["sh", "-c", "exit 5"]], timeout=5)
        assert [(r.rc, r.stdout) for r in res] == [(0, "alone\n"), (5, "")]
        assert host._dir is None and not host.alive()      # no control socket was ever made
        assert host.run(["echo", "later"]).stdout == "later\n" and host.alive()   # then shared as usual


def test_one_shot_first_command_on_a_host_that_is_off_is_one_line(ssh_env):
    host = connect(node_of(ssh_env, "unreachable").ssh_spec, timeout=2)
    host.one_shot_first = True
    with pytest.raises(TransportError) as err:
        host.run_many([["true"]], timeout=2)
    assert "\n" not in str(err.value)


# -- the rest of the Runner interface over ssh: streams, files, detached processes -----------------

def test_stream_over_ssh_rides_the_shared_connection_and_stop_ends_the_remote_command(ssh_env):
    with connect(ssh_env.nodes[0].ssh_spec, timeout=5) as host:
        with host.stream(["sh", "-c", "echo a; echo b >&2; exit 4"]) as lines:
            assert list(lines) == ["a", "b"]
        assert lines.rc == 4 and host.alive()
        marker = "sparkpilot-stream-%d" % os.getpid()
        with host.stream(["sh", "-c", f"echo up; exec sleep 301 {marker}"]) as lines:
            assert next(iter(lines)) == "up"
        left = ""
        for _ in range(50):   # the remote sleep got SIGTERM when our side closed its stdin
            left = host.run(["sh", "-c", f"ps -eo args | grep -v grep | grep {marker} || true"]).stdout
            if not left.strip():
                break
            time.sleep(0.1)
        assert left.strip() == ""


def test_put_and_get_over_ssh(ssh_env, tmp_path):
    data = bytes(range(256)) * 64
    (tmp_path / "f").write_bytes(data)
    with connect(ssh_env.nodes[0].ssh_spec, timeout=5) as host:
        remote = host.run(["mktemp"]).stdout.strip()
        host.put(tmp_path / "f", remote, mode=0o600)
        host.get(remote, tmp_path / "back")
        assert (tmp_path / "back").read_bytes() == data
        assert host.run(["stat", "-c", "%a", remote]).stdout.strip() == "600"
        with pytest.raises(TransportError, match="cannot read"):
            host.get(remote + ".missing", tmp_path / "x")


def test_detached_process_outlives_the_ssh_session(ssh_env):
    spec = ssh_env.nodes[0].ssh_spec
    with connect(spec, timeout=5) as host:
        handle = host.start_detached(["sleep", "300"], "sparkpilot-test-outlives")
    with connect(spec, timeout=5) as again:   # the first connection (and its master) is gone
        handle.runner = again
        try:
            assert handle.running()
        finally:
            handle.stop()
        assert not handle.running()
