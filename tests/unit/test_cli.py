import subprocess
import sys

from sparkpilot import __version__
from sparkpilot.cli.main import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("plan", "lint", "doctor", "diagnose"):
        assert f"  {name}" in out


def test_unknown_command_is_one_line_exit_2(capsys):
    assert main(["lnit"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean `lint`" in err


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "sparkpilot", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("sparkpilot ")
