from sparkpilot.cli.main import main


def test_explain_failure_class_lists_each_evidence_line_with_its_source(capsys):
    assert main(["explain", "oom_at_startup"]) == 0
    out = capsys.readouterr().out
    assert "[{" not in out                       # not a raw Python list
    evidence = out.split("Evidence:", 1)[1]
    assert evidence.count("\n  - ") >= 1
    assert evidence.count("source: https://") == evidence.count("\n  - ")


def test_explain_finds_rules_checks_and_failures_by_id_or_name(capsys):
    for key in ("cutlass-fp4", "SPL004", "driver-version", "ray_memory_monitor_kill"):
        assert main(["explain", key]) == 0
    assert main(["explain", "cutlas-fp4"]) == 2
    assert "did you mean `cutlass-fp4`" in capsys.readouterr().err
