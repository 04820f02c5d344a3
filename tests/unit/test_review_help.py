"""Every command's --help explains every option and ends with examples that use real options."""

from __future__ import annotations

import re

import pytest

from sparkpilot.cli.main import COMMANDS, build_parser, main


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_explains_every_option_and_gives_examples(capsys, name):
    parser, module = build_parser(name)
    for action in parser._actions:
        if action.option_strings:
            assert action.help, f"{name} {action.option_strings[0]} has no help text"
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert "\nexamples:\n" in out
    known = {s for a in parser._actions for s in a.option_strings}
    for line in module.EXAMPLES.splitlines():
        cmd = line.split("sparkpilot " + name, 1)[1] if ("sparkpilot " + name) in line else ""
        cmd = cmd.split("  ")[0].split(" -- ")[0]   # the comment; a launch after --
        for opt in re.findall(r"(?<!\S)(--?[a-z][a-z-]*)", cmd):
            assert opt in known, f"example `{line.strip()}` uses {opt}, which {name} does not have"


def test_plan_help_names_no_command_that_does_not_exist(capsys):
    assert main(["plan", "--help"]) == 0
    assert "`up" not in capsys.readouterr().out


@pytest.mark.parametrize("written, found", [
    ("enforce_eager", "SPL002 enforce-eager"),             # the shared data's label spelling
    ("--moe-backend", "SPL010 moe-backend"),               # the flag as written in a launch
    ("missing_ray_memory_monitor_env", "SPL008 ray-memory-monitor"),   # CONTRACTS.md data label
    ("other:kv_cache_insufficient_for_max_model_len", "SPF011 max_model_len_too_long"),
    ("page_cache", "SPD005 page-cache"),
])
def test_explain_finds_the_spellings_people_type(capsys, written, found):
    assert main(["explain", "--", written]) == 0
    assert capsys.readouterr().out.startswith(found)
