"""The Runner interface (transport/base.py) on this machine and on a recording: streams that stop,
files in and out, processes that outlive the session that started them."""

from __future__ import annotations

import os
import threading

import pytest

from sparkpilot.errors import TransportError
from sparkpilot.transport import Runner, connect
from sparkpilot.transport.base import CommandResult
from sparkpilot.transport.local import LocalRunner


def test_every_runner_is_a_runner():
    assert isinstance(connect("local"), Runner)
    assert isinstance(connect("replay://single"), Runner)
    assert isinstance(connect("user@spark-1:2222"), Runner)
    assert connect("replay://single").recorded and not connect("local").recorded


def test_stream_gives_lines_as_they_come_and_the_exit_code():
    with LocalRunner().stream(["sh", "-c", "echo one; echo two >&2; printf three; exit 3"]) as lines:
        got = list(lines)
    assert got == ["one", "two", "three"] and lines.rc == 3


def test_a_stream_stopped_from_another_thread_ends_and_kills_the_command():
    stream = LocalRunner().stream(["sh", "-c", "echo started; exec sleep 300"])
    seen = []
    with stream:
        for line in stream:
            seen.append(line)
            threading.Thread(target=stream.stop).start()
    assert seen == ["started"] and stream.rc is None
    assert stream.proc.poll() is not None   # the sleep is gone, not left behind


def test_put_and_get_round_trip_bytes_and_mode(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(range(256)) * 4)
    os.chmod(src, 0o640)
    runner = LocalRunner()
    runner.put(src, str(tmp_path / "dst.bin"))
    assert (tmp_path / "dst.bin").read_bytes() == src.read_bytes()
    assert (tmp_path / "dst.bin").stat().st_mode & 0o777 == 0o640
    runner.get(str(tmp_path / "dst.bin"), tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    with pytest.raises(TransportError, match="cannot read"):
        runner.get(str(tmp_path / "missing"), tmp_path / "x")


def test_default_run_many_keeps_the_order():
    class Echo(Runner):
        name = "echo"

        def run(self, argv, timeout=10.0):
            return CommandResult(0, " ".join(argv), "", 0.0)

    assert [r.stdout for r in Echo().run_many([["a"], ["b", "c"], ["d"]])] == ["a", "b c", "d"]
    assert Echo().run_many([]) == []


def test_detached_process_outlives_its_session_and_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    runner = LocalRunner()
    handle = runner.start_detached(["sleep", "300"], "sparkpilot-test-detached")
    try:
        assert handle.kind in ("setsid", "systemd")
        assert handle.running()
        if handle.kind == "setsid":   # its own session, not ours (nor the `sh` that started it)
            assert os.getsid(handle.pid) == handle.pid != os.getsid(0)
            with pytest.raises(TransportError, match="already running"):
                runner.start_detached(["sleep", "300"], "sparkpilot-test-detached")
    finally:
        handle.stop()
    assert not handle.running()


def test_detached_unit_names_are_checked():
    from sparkpilot.errors import UsageError

    with pytest.raises(UsageError):
        LocalRunner().start_detached(["true"], "bad name; rm -rf /")


def test_a_recorded_host_streams_its_recording_and_changes_nothing(tmp_path):
    from sparkpilot.transport.replay import ReplayRunner

    host = ReplayRunner("single")
    argv, rec = next(iter(host.by_argv.items()))
    with host.stream(list(argv)) as lines:
        assert list(lines) == (rec.get("stdout", "") + rec.get("stderr", "")).splitlines()
    (tmp_path / "f").write_text("x")
    with pytest.raises(TransportError, match="recorded host"):
        host.put(tmp_path / "f", "/tmp/f")
    with pytest.raises(TransportError, match="recorded host"):
        host.start_detached(["true"], "x")
