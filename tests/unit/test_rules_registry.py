"""The lint rules' code table (rules/registry.py) and their texts (knowledge/rules.yaml) name the
same rules: one id, one name, each documented with a fix and evidence, none on one side only."""

from __future__ import annotations

from sparkpilot.rules.kb import rules
from sparkpilot.rules.registry import RULES


def test_every_rule_in_the_registry_is_in_rules_yaml_with_the_same_name_and_back():
    code = {rid: name for rid, name, _ in RULES}
    data = {str(r["id"]): str(r["name"]) for r in rules()}
    assert len(code) == len(RULES) and len(set(code.values())) == len(RULES)   # ids and names unique
    assert len(data) == len(rules())
    assert code == data


def test_every_rule_text_says_why_how_to_fix_and_where_it_comes_from():
    for r in rules():
        assert r.get("fix") and r.get("evidence"), r["id"]
        assert r.get("severity") in ("error", "warning", "info"), r["id"]
