"""The literal gate in front of the regexes never hides a line a regex would match."""

from __future__ import annotations

from pathlib import Path

from sparkpilot.diagnosis.gate import Gate, required_literals
from sparkpilot.diagnosis.lines import parse_line, split_lines
from sparkpilot.diagnosis.figures import FIGURES
from sparkpilot.diagnosis.phases import MARKERS
from sparkpilot.diagnosis.signatures import signatures

REPO = Path(__file__).resolve().parents[2]
LINES = [parse_line(l).text for p in sorted((REPO / "tests" / "data" / "logs").glob("*.log"))
         for l in split_lines(p.read_text(encoding="utf-8", errors="replace"))]
ALL = ([rx for _, rx, _ in MARKERS] + [rx for rx, _ in FIGURES]
       + [rx for s in signatures() for rx in [*s.patterns, *s.needs]])


def test_literals_of_simple_patterns():
    assert required_literals(r"Model loading took ([\d.]+) GiB") == ["Model loading took "]
    assert sorted(required_literals(r"(?:ImportError|ModuleNotFoundError)\b")) == ["ImportError", "ModuleNotFoundError"]
    assert required_literals(r"\d+") is None


def test_gate_lets_through_every_real_line_a_regex_matches():
    for rx in ALL:
        gate = Gate([rx])
        for text in LINES:
            if rx.search(text):
                assert gate.may_match(text), (rx.pattern, text)
