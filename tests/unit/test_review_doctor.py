"""doctor --fix as a Spark owner reads it: the commands it can run, and what is left to do by hand."""

from __future__ import annotations

from sparkpilot.cli.main import main


def test_fix_names_the_failures_it_cannot_run_for_you(capsys):
    rc = main(["doctor", "--host", "replay://broken", "--fix"])
    out = capsys.readouterr().out
    assert rc == 1
    tail = out[out.index("Fix commands"):]
    assert "drop_caches" in tail   # an automatic fix
    # the MTU fix reads each port's connection from NetworkManager on the host and brings it up again
    # (issue 8, point 7: no placeholder left), so it runs with --apply too
    assert "nmcli -g GENERAL.CONNECTION device show enp1s0f1np1" in tail and 'nmcli con up "$c"' in tail
    assert "<connection of" not in out
    # the driver failure has no safe automatic command; it must not look fixed
    by_hand = next(line for line in tail.splitlines() if line.startswith("To fix by hand"))
    for name in ("driver-version", "netplan-ignored", "clock-sync (cluster)"):
        assert name in by_hand
    assert "page-cache" not in by_hand and "mtu" not in by_hand


def test_a_clean_pair_has_nothing_to_do(capsys):
    assert main(["doctor", "--host", "replay://pair", "--fix"]) == 0
    out = capsys.readouterr().out
    assert "Nothing to fix automatically." in out and "To fix by hand" not in out


def test_explain_gpu_memory_utilization_agrees_with_plan(capsys):
    """explain's fix used to say 0.80 at long context while plan picks 0.85 (64K+) and 0.83 (256K+)."""
    from sparkpilot.planner.memory import default_utilization

    assert main(["explain", "gpu-memory-utilization"]) == 0
    fix = capsys.readouterr().out.split("Fix:")[1].split("Evidence:")[0]
    fix = " ".join(fix.split())
    assert "0.80" not in fix
    assert f"{default_utilization(262144):.2f}" in fix and f"{default_utilization(65536):.2f}" in fix


def test_capture_says_how_to_replay_the_recording(capsys, tmp_path):
    """capture used to say `copy it under sparkpilot/replays/`; a pip user cannot know where that is.
    Now no copy is needed: the last line replays the capture where it was written."""
    rc = main(["capture", "--mask", "--out", str(tmp_path / "mine")])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert rc in (0, 1)
    assert f"sparkpilot doctor --host replay://{tmp_path / 'mine'}" in last
    assert main(["doctor", "--host", f"replay://{tmp_path / 'mine'}", "--format", "json"]) in (0, 1)


def test_failure_fixes_point_a_spark_owner_somewhere_useful(capsys):
    assert main(["explain", "unrecognised"]) == 0
    fix = " ".join(capsys.readouterr().out.split("Fix:")[1].split())
    assert "sparkpilot lint" in fix and "sparkpilot doctor" in fix and "last line of its traceback" in fix
    assert main(["explain", "cudagraph_hang"]) == 0
    fix = " ".join(capsys.readouterr().out.split("Fix:")[1].split())
    assert "nvidia-driver-580-open" in fix   # the package doctor's driver-held check names on DGX OS
