"""`sparkpilot logs NAME`: every node's container log merged by time, each line with its node."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from sparkpilot.cli.common_deploy import add_target, close, runners_for, target
from sparkpilot.transport.base import Runner

EXAMPLES = """\
  sparkpilot logs qwen3-32b                  the whole log of every node, merged by time
  sparkpilot logs qwen3-32b --follow         and what comes (Ctrl-C stops)
  sparkpilot logs qwen3-32b --tail 50
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target(parser)
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    parser.add_argument("--tail", metavar="N", help="only the last N lines of each node")


def split_ts(line: str) -> tuple[str, str]:
    """`docker logs --timestamps` puts an RFC 3339 time first; it sorts as text."""
    ts, sep, rest = line.partition(" ")
    if sep and len(ts) >= 20 and ts[:4].isdigit() and "T" in ts:
        return ts, rest
    return "", line


def merged(items: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """[(node, text)] of several logs -> [(ts, node, text)] in time order (stable within a node)."""
    rows = []
    last: dict[str, str] = {}
    for node, text in items:
        for line in text.splitlines():
            ts, rest = split_ts(line)
            ts = ts or last.get(node, "")
            last[node] = ts
            rows.append((ts, node, rest))
    return sorted(rows, key=lambda r: r[0])


def follow(name: str, runners: list[tuple[str, Runner]], out: TextIO, since: str | None = None,
           tail: str | None = None) -> None:
    from sparkpilot.launcher import containers
    from sparkpilot.launcher.streams import Merged

    m = Merged()
    width = max(len(n) for n, _ in runners)
    try:
        for node, r in runners:
            m.add(node, r, containers.logs_argv(f"sparkpilot-{name}", follow=True, since=since, tail=tail))
        ended = 0
        while ended < len(runners):
            item = m.get(1.0)
            if item is None:
                continue
            node, line = item
            if line is None:
                ended += 1
                continue
            _, rest = split_ts(line)
            out.write(f"{node:<{width}} | {rest}\n")
            out.flush()
    finally:
        m.stop()


def run(args: argparse.Namespace) -> int:
    from sparkpilot.launcher import containers

    name, nodes = target(args)
    assert name is not None
    runners = runners_for(nodes)
    try:
        if args.follow:
            try:
                follow(name, runners, sys.stdout, tail=args.tail)
            except KeyboardInterrupt:
                return 0
            return 0
        texts = []
        for node, r in runners:
            res = r.run(containers.logs_argv(f"sparkpilot-{name}", follow=False, tail=args.tail), timeout=60.0)
            texts.append((node, res.stdout + res.stderr if res.rc == 0 else ""))
        width = max(len(n) for n, _ in runners)
        for _, node, rest in merged(texts):
            sys.stdout.write(f"{node:<{width}} | {rest}\n")
    finally:
        close(runners)
    return 0
