"""A capture replays from wherever it is: `doctor --host replay:///path` and `plan --host replay:///path`
read what `sparkpilot capture --out DIR` wrote (here: a real capture of this machine, and a copy of the
shipped real pair recording), not only the recordings shipped in sparkpilot/replays/."""

from __future__ import annotations

import json
import shutil

import pytest

from sparkpilot.cli.main import main
from sparkpilot.errors import UsageError
from sparkpilot.inventory import from_hosts
from sparkpilot.transport import connect
from sparkpilot.transport.replay import REPLAYS, ReplayRunner, expand


def test_capture_this_machine_then_doctor_replays_it_from_its_folder(tmp_path, capsys, monkeypatch):
    out = tmp_path / "my-spark"
    assert main(["capture", "--out", str(out), "--mask"]) == 0
    said = capsys.readouterr().out
    assert f"doctor --host replay://{out}" in said                 # the line to run next, no copying
    rc = main(["doctor", "--host", f"replay://{out}", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    host = report["hosts"][0]
    assert host["host"] == f"replay://{out}" and host["reachable"] is True
    by_name = {c["name"]: c for c in host["checks"]}
    assert by_name["memory-budget"]["status"] in ("pass", "warn", "fail")   # measured from the capture
    assert rc in (0, 1)
    monkeypatch.chdir(tmp_path)                                     # the same capture by a relative path
    assert main(["doctor", "--host", "replay://./my-spark/node-1", "--format", "json"]) == rc
    assert json.loads(capsys.readouterr().out)["hosts"][0]["reachable"] is True


def test_a_copied_pair_replays_by_path_as_by_name(tmp_path, capsys):
    shutil.copytree(REPLAYS / "pair", tmp_path / "pair")
    by_path = expand(f"replay://{tmp_path / 'pair'}")
    assert by_path == [f"replay://{tmp_path / 'pair'}/spark-a", f"replay://{tmp_path / 'pair'}/spark-b"]
    a = connect(by_path[0])
    assert isinstance(a, ReplayRunner)
    shipped = ReplayRunner("pair/spark-a")
    argv = next(iter(shipped.by_argv))
    assert a.run(list(argv)).stdout == shipped.run(list(argv)).stdout
    reports = []
    for spec in (f"replay://{tmp_path / 'pair'}", "replay://pair"):
        assert main(["doctor", "--host", spec, "--format", "json"]) == 0   # the shipped pair passes
        reports.append([[(c["name"], c["status"]) for c in h["checks"]]
                        for h in json.loads(capsys.readouterr().out)["hosts"]])
    assert reports[0] == reports[1]


def test_plan_takes_a_capture_path(tmp_path, capsys):
    shutil.copytree(REPLAYS / "pair", tmp_path / "pair")
    assert main(["plan", "Qwen/Qwen3-32B", "--host", f"replay://{tmp_path / 'pair'}", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["nodes"] == 2 and plan["launch"]["nodes"][1]["env"]


@pytest.mark.parametrize("spec,msg", [
    ("replay:///no/such/capture", "no such folder"),
    ("replay://no-such-recording", "a capture elsewhere: replay:///path/to/it"),
])
def test_bad_capture_paths_are_one_line_bad_input(spec, msg):
    with pytest.raises(UsageError, match=msg):
        from_hosts([spec])


def test_a_folder_without_recording_json_says_how_to_make_one(tmp_path):
    with pytest.raises(UsageError, match=r"folder without recording\.json.*sparkpilot capture --out"):
        from_hosts([f"replay://{tmp_path}"])
    (tmp_path / "recording.json").write_text("{not json")
    with pytest.raises(UsageError, match="not a readable recording"):
        from_hosts([f"replay://{tmp_path}"])
