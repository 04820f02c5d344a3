"""doctor --fix as a Spark owner reads it: the commands it can run, and what is left to do by hand."""

from __future__ import annotations

from sparkpilot.cli.main import main


def test_fix_names_the_failures_it_cannot_run_for_you(capsys):
    rc = main(["doctor", "--host", "replay://broken", "--fix"])
    out = capsys.readouterr().out
    assert rc == 1
    tail = out[out.index("Fix commands"):]
    assert "drop_caches" in tail   # the one automatic fix
    # the driver and the MTU failures have no safe automatic command; they must not look fixed
    by_hand = next(line for line in tail.splitlines() if line.startswith("To fix by hand"))
    for name in ("driver-version", "mtu", "netplan-ignored", "clock-sync (cluster)"):
        assert name in by_hand
    assert "page-cache" not in by_hand


def test_a_clean_pair_has_nothing_to_do(capsys):
    assert main(["doctor", "--host", "replay://pair", "--fix"]) == 0
    out = capsys.readouterr().out
    assert "Nothing to fix automatically." in out and "To fix by hand" not in out
