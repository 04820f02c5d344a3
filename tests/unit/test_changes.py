"""Changes to hosts (sparkpilot.changes): order, verification, sudo refusals, hosts that stop
answering, recorded hosts, undo."""

from __future__ import annotations

from sparkpilot.changes import Change, apply, failed, undo
from sparkpilot.errors import TransportError
from sparkpilot.transport.base import CommandResult, Runner


class Host(Runner):
    """Answers from a table {command word: (rc, stderr)}; `gone_after` commands it stops answering."""

    def __init__(self, name, answers=None, gone_after=None, recorded=False):
        self.name, self.answers, self.gone_after, self.recorded = name, answers or {}, gone_after, recorded
        self.ran = []

    def run(self, argv, timeout=10.0):
        if self.gone_after is not None and len(self.ran) >= self.gone_after:
            raise TransportError(f"{self.name}: stopped answering")
        self.ran.append(list(argv))
        rc, err = self.answers.get(argv[0], (0, ""))
        return CommandResult(rc, "", err, 0.0)


def test_changes_run_in_order_per_host_and_results_keep_the_given_order():
    a, b = Host("a"), Host("b")
    changes = [Change("a", ("one",)), Change("b", ("two",)), Change("a", ("three",), verify=("check",))]
    results = apply(changes, {"a": a, "b": b})
    assert [r.change for r in results] == changes and not failed(results)
    assert a.ran == [["one"], ["three"], ["check"]] and b.ran == [["two"]]


def test_failures_sudo_refusals_and_failed_verification_are_outcomes():
    h = Host("h", {"bad": (2, "no such thing\n"), "sudo": (1, "sudo: a password is required\n"),
                   "check": (1, "")})
    results = apply([Change("h", ("bad",)), Change("h", ("sudo", "-n", "apt-mark", "hold", "x")),
                     Change("h", ("ok",), verify=("check",))], {"h": h})
    assert [r.outcome for r in results] == ["failed", "needs-sudo", "failed"]
    assert results[0].detail == "exit 2: no such thing"
    assert "run it yourself: apt-mark hold x" in results[1].detail
    assert "`check` still fails" in results[2].detail and failed(results)


def test_a_host_that_stops_answering_skips_its_remaining_changes():
    h = Host("h", gone_after=1)
    results = apply([Change("h", ("a",)), Change("h", ("b",)), Change("h", ("c",))], {"h": h})
    assert [r.outcome for r in results] == ["done", "unreachable", "skipped"]


def test_an_unreachable_host_and_a_recorded_host_change_nothing():
    def connect(host, timeout):
        raise TransportError(f"{host}: Connection refused")

    results = apply([Change("x", ("a",)), Change("x", ("b",))], connect=connect)
    assert [r.outcome for r in results] == ["unreachable", "skipped"] and "refused" in results[0].detail
    rec = Host("r", recorded=True)
    assert [r.outcome for r in apply([Change("r", ("a",))], {"r": rec})] == ["skipped"] and rec.ran == []


def test_undo_reverts_what_was_done_newest_first():
    h = Host("h", {"fails": (1, "")})
    results = apply([Change("h", ("set", "1"), undo=("unset", "1")), Change("h", ("set", "2"), undo=("unset", "2")),
                     Change("h", ("fails",), undo=("never",))], {"h": h})
    h.ran.clear()
    assert [r.outcome for r in undo(results, {"h": h})] == ["done", "done"]
    assert h.ran == [["unset", "2"], ["unset", "1"]]
