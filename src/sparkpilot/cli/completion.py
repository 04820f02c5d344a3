"""`sparkpilot completion bash|zsh`: a completion script built from the command table."""

from __future__ import annotations

import argparse

from sparkpilot.cli import main as cli_main


EXAMPLES = """\
  sparkpilot completion bash > /etc/bash_completion.d/sparkpilot
  source <(sparkpilot completion zsh)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=("bash", "zsh"), help="which shell")


def _options(name: str) -> list[str]:
    try:
        parser, _ = cli_main.build_parser(name)
    except Exception:  # noqa: BLE001 - a command still being built must not break completion
        return ["--help"]
    opts: list[str] = []
    for action in parser._actions:
        opts.extend(o for o in action.option_strings if o.startswith("--"))
    return sorted(set(opts))


def run(args: argparse.Namespace) -> int:
    names = list(cli_main.COMMANDS)
    cases = "\n".join(f"        {n}) opts=\"{' '.join(_options(n))}\" ;;" for n in names)
    script = f"""# sparkpilot {args.shell} completion: eval "$(sparkpilot completion {args.shell})"
_sparkpilot() {{
    local cur cmd opts
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    cmd="${{COMP_WORDS[1]}}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=( $(compgen -W "{' '.join(names)} --help --version" -- "$cur") )
        return 0
    fi
    case "$cmd" in
{cases}
        *) opts="--help" ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
    else
        COMPREPLY=( $(compgen -f -- "$cur") )
    fi
}}
"""
    if args.shell == "zsh":
        script = "autoload -U +X bashcompinit && bashcompinit\n" + script
    print(script + "complete -F _sparkpilot sparkpilot")
    return 0
