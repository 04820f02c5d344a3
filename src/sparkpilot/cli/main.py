"""The sparkpilot command line: `main(argv) -> int`.

Each command lives in its own module `sparkpilot.cli.<module>` with two functions:
    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int
Only the module of the command being run is imported, so `sparkpilot --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types   # already loaded by the interpreter; `typing` is not, and --help need not pay for it

from sparkpilot import __version__
from sparkpilot.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, SparkpilotError

# command name -> (module under sparkpilot.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "plan": ("plan", "memory, KV cache, flags and start-up time for a model on 1..N Sparks"),
    "lint": ("lint", "check a vLLM launch (command, docker run, compose, recipe) against the SM121 rules"),
    "rules": ("rules", "list the SM121 lint rules"),
    "explain": ("explain", "explain one lint rule, doctor check or failure class by name or id"),
    "doctor": ("doctor", "check one or many Sparks over SSH and say what to do"),
    "capture": ("capture", "record every probe's output on a Spark as test fixtures"),
    "net": ("net", "set up, prove and keep the QSFP fabric between Sparks (plan, apply, undo, check)"),
    "diagnose": ("diagnose", "explain a vLLM start-up log: phases, figures, failure and fix"),
    "bench": ("bench", "tokens per second you can trust, against what a Spark should give"),
    "up": ("up", "serve a model on 1..N Sparks from a plan: pre-flight, sync, launch, progress, smoke test"),
    "down": ("down", "stop a deployment everywhere: its supervisor and every container"),
    "status": ("status", "per node: state, model, phase, uptime, endpoint and memory of deployments"),
    "logs": ("logs", "every node's log of a deployment, merged by time (--follow)"),
    "watch": ("watch", "live dashboard of every Spark and its vLLM: GPU, unified memory, thermals, QSFP, alerts"),
    "exporter": ("exporter", "the watch's metrics on a Prometheus endpoint; --rules / --dashboard for Prometheus and Grafana"),
    "report": ("report", "draw a flight recording (watch --record DIR) as PNG and HTML"),
    "completion": ("completion", "print a shell completion script (bash or zsh)"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors are one line and exit 2."""

    def error(self, message: str):  # type: ignore[override]
        raise SparkpilotError(f"{self.prog}: {message}", EXIT_USAGE)


def _top_help() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = [
        "usage: sparkpilot [--version] [--debug] <command> [options]",
        "",
        "vLLM on NVIDIA DGX Spark (GB10, SM121): plan, lint, check and explain.",
        "",
        "commands:",
    ]
    for name, (_, text) in COMMANDS.items():
        lines.append(f"  {name:<{width}}  {text}")
    lines += ["", "Run `sparkpilot <command> --help` for a command's options.",
              "Exit codes: 0 ok, 1 findings or failure, 2 usage or bad input, 3 internal error, 130 interrupted."]
    return "\n".join(lines)


def build_parser(name: str) -> tuple[argparse.ArgumentParser, types.ModuleType]:
    module_name, text = COMMANDS[name]
    module = importlib.import_module(f"sparkpilot.cli.{module_name}")
    examples = getattr(module, "EXAMPLES", "")
    parser = _Parser(prog=f"sparkpilot {name}", description=text,
                     epilog=("examples:\n" + examples) if examples else None,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    module.add_arguments(parser)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[: argv.index("--")] if "--" in argv else "--debug" in argv
    try:
        while argv and argv[0] == "--debug":
            argv.pop(0)
        if not argv or argv[0] in ("-h", "--help", "help"):
            if len(argv) > 1 and argv[0] == "help" and argv[1] in COMMANDS:
                argv = [argv[1], "--help"]
            else:
                print(_top_help())
                return 0
        if argv[0] in ("-V", "--version", "version"):
            print(f"sparkpilot {__version__}")
            return 0
        name = argv[0]
        if name not in COMMANDS:
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise SparkpilotError(f"unknown command `{name}`{hint}; see `sparkpilot --help`", EXIT_USAGE)
        parser, module = build_parser(name)
        try:
            args = parser.parse_args(argv[1:])
        except SystemExit as exc:  # --help inside a command
            return int(exc.code or 0)
        return int(module.run(args) or 0)
    except SparkpilotError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        print(f"sparkpilot: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sparkpilot: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into exit 3
        if debug:
            import traceback

            traceback.print_exc()
        print(f"sparkpilot: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
