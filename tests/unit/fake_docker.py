"""A node's docker as far as up's launch, teardown and supervisor ask it, for unit tests
(test_launcher.py, test_supervisor.py): ps, run (also as `mkdir -p CACHE && exec docker run`),
rm -f, printenv HOME; a subclass answers more through `more(argv)`."""

from __future__ import annotations

import json

from sparkpilot.launcher.deployment import LABEL
from sparkpilot.transport.base import CommandResult


class FakeDockerNode:
    name = "fake"
    recorded = False
    ps_state, ps_status = "running", "Up 2 seconds"   # what `docker ps` says of a started container

    def __init__(self):
        self.running = False
        self.argvs: list[list[str]] = []

    def more(self, argv: list[str]) -> str | None:
        """The answer to a command the base does not know (None: empty output)."""
        return None

    def run(self, argv, timeout=60.0):
        argv = list(argv)
        self.argvs.append(argv)
        if argv[:2] == ["sh", "-c"] and argv[5:7] == ["docker", "run"]:   # mkdir -p CACHE && exec docker run
            argv = argv[5:]
        out = ""
        if argv[:2] == ["docker", "ps"]:
            if self.running:
                out = json.dumps({"ID": "0123456789abcdef", "Names": "sparkpilot-x", "State": self.ps_state,
                                  "Status": self.ps_status, "Labels": f"{LABEL}=x", "Image": "img",
                                  "CreatedAt": "-"})
        elif argv[:2] == ["docker", "run"]:
            self.running, out = True, "0123456789abcdef\n"
        elif argv[:3] == ["docker", "rm", "-f"]:
            self.running = False
        elif argv[0] == "printenv":
            out = "/root\n"
        else:
            out = self.more(argv) or ""
        return CommandResult(0, out, "", 0.0)
