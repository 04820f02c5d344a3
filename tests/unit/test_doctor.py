"""sparkpilot doctor and capture as a user runs them: replay hosts, this machine, bad input."""

from __future__ import annotations

import json

import pytest

from sparkpilot.cli.main import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_pair_report_json_shape(capsys):
    rc, out, _err = run(capsys, "doctor", "--host", "replay://pair", "--format", "json")
    data = json.loads(out)
    assert rc == 0 and set(data) == {"hosts", "cluster"}
    assert [h["host"] for h in data["hosts"]] == ["replay://pair/spark-a", "replay://pair/spark-b"]
    for h in data["hosts"]:
        assert h["reachable"] is True
        for c in h["checks"]:
            assert set(c) == {"id", "name", "status", "message", "fix", "data"}
            assert c["status"] in ("pass", "warn", "fail", "skip", "unknown")
    gid = next(c for c in data["hosts"][0]["checks"] if c["name"] == "roce-gid")
    assert [d["gid_index"] for d in gid["data"]["devices"]] == [3, 3]
    assert {c["name"]: c["status"] for c in data["cluster"]["checks"]}["peer-reachable"] == "pass"


def test_broken_replay_exits_1_and_fix_shows_commands_without_changing(capsys):
    rc, out, _err = run(capsys, "doctor", "--host", "replay://broken", "--fix")
    assert rc == 1
    assert "FAIL  driver-version" in out and "CUDAGraph deadlock" in out
    assert "sudo -n sh -c 'sync; echo 3 > /proc/sys/vm/drop_caches'" in out
    assert "nothing changes on a host without --apply" in out


def test_apply_on_recorded_host_applies_nothing(capsys):
    _rc, out, _err = run(capsys, "doctor", "--host", "replay://broken", "--fix", "--apply")
    assert "recorded host, nothing applied" in out


def test_list_replays(capsys):
    rc, out, _err = run(capsys, "doctor", "--list-replays", "--format", "json")
    names = {r["name"] for r in json.loads(out)["replays"]}
    assert rc == 0 and {"single", "pair", "broken"} <= names
    rc, out, _err = run(capsys, "doctor", "--list-replays")
    assert "replay://pair" in out


def test_local_host_reports_what_it_is_without_crashing(capsys):
    rc, out, err = run(capsys, "doctor", "--host", "local", "--format", "json")
    data = json.loads(out)
    gb10 = next(c for c in data["hosts"][0]["checks"] if c["name"] == "gb10")
    assert gb10["status"] in ("pass", "fail") and gb10["message"]
    assert rc in (0, 1) and err == ""


@pytest.mark.parametrize("argv,needle", [
    (["doctor", "--inventory", "/nonexistent/inv.yaml"], "no such file"),
    (["doctor", "--host", "bad host"], "bad host"),
    (["doctor", "--host", "replay://nope"], "no recorded host"),
    (["doctor", "--apply"], "--apply needs --fix"),
    (["doctor", "--timeout", "0"], "--timeout"),
])
def test_bad_input_exit_2_one_line(capsys, argv, needle):
    rc, _out, err = run(capsys, *argv)
    assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_unreachable_host_one_line_exit_1(capsys):
    import shutil

    if shutil.which("ssh") is None:
        pytest.skip("no ssh client")
    rc, out, _err = run(capsys, "doctor", "--host", "nobody@127.0.0.1:1", "--timeout", "3", "--format", "json")
    data = json.loads(out)
    h = data["hosts"][0]
    assert rc == 1 and h["reachable"] is False and h["reason"] and "\n" not in h["reason"]
    assert {c["status"] for c in h["checks"]} == {"unknown"}


def test_capture_masks_and_replays(capsys, tmp_path):
    out_dir = tmp_path / "rec"
    rc, _out, _err = run(capsys, "capture", "--mask", "--out", str(out_dir))
    assert rc == 0 and (out_dir / "recording.json").is_file()
    node = out_dir / "node-1"
    rec = json.loads((node / "meminfo.json").read_text())
    assert rec["probe"] == "meminfo" and "MemTotal" in rec["stdout"]
    import socket

    host = socket.gethostname()
    for f in node.glob("*.json"):
        assert host not in f.read_text() or host in ("localhost",), f.name
    from sparkpilot.facts import HostFacts, collect_host
    from sparkpilot.transport.replay import ReplayRunner

    runner = ReplayRunner("rec", root=tmp_path)
    h = collect_host(runner, HostFacts(runner.name), 5)
    assert h.get("meminfo").mem_total_kb > 0


def test_mask_keeps_what_checks_read_and_hides_addresses(tmp_path):
    """A recorded pair node masked as capture --mask does: addresses, MACs and GIDs are gone, the
    GID indexes and the address <-> GID relation stay, so the checks read the same."""
    import shutil

    from sparkpilot.checks import run_host_checks
    from sparkpilot.cli.capture import Masker
    from sparkpilot.facts import HostFacts, collect_host
    from sparkpilot.transport.replay import REPLAYS, ReplayRunner

    src = REPLAYS / "pair"
    dst = tmp_path / "masked"
    shutil.copytree(src, dst)
    m = Masker()
    for f in (dst / "spark-a").glob("*.json"):
        rec = json.loads(f.read_text())
        rec["stdout"] = m.text(rec["stdout"])
        f.write_text(json.dumps(rec))
    text = "".join(json.loads(f.read_text())["stdout"] for f in (dst / "spark-a").glob("*.json"))
    for secret in ("192.168.100.10", "4c:bb:47:2d:1a:17", "4ebb:47ff:fe2d:1a17", "c0a8:640a"):
        assert secret not in text
    before = {r.name: (r.status, r.data.get("devices")) for r in
              run_host_checks(collect_host(ReplayRunner("pair/spark-a"), HostFacts("a"), 5))}
    after = {r.name: (r.status, r.data.get("devices")) for r in
             run_host_checks(collect_host(ReplayRunner("masked/spark-a", root=tmp_path), HostFacts("a"), 5))}
    assert {k: v[0] for k, v in before.items()} == {k: v[0] for k, v in after.items()}
    assert [d["gid_index"] for d in after["roce-gid"][1]] == [3, 3]
