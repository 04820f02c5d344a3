"""The replay engine: stands in for `vllm` in the replay image (sparkpilot-sim/vllm-replay).

It writes the lines of one real GB10 start (a script compiled by tests/sim/replay.py from the
recorded logs) with their real relative timing scaled by SPARKPILOT_TIME_SCALE, serves GET /health
(200) on the --port of its argv only from the point where the real start reached
"Application startup complete", and ends as the real process did:
  exit   the real process failed: exit code 1 (Python's code for the uncaught error it logged)
  hang   the recording stops mid-start (a hang, or a cut log): it stays alive, never healthy
  serve  the start succeeded: it keeps serving /health until stopped
Which start: $SPARKPILOT_REPLAY (a scenario name or a log id; the image's tags set it).
Only the standard library: it runs in any image with python3.
"""

import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCRIPTS = os.environ.get("SPARKPILOT_REPLAY_DIR", "/opt/replay/scripts")


def time_scale() -> float:
    try:
        value = float(os.environ.get("SPARKPILOT_TIME_SCALE", "") or 1)
    except ValueError:
        return 1.0
    return value if 0 < value < float("inf") else 1.0


def arg(argv, name, default):
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


class Health(BaseHTTPRequestHandler):
    def do_GET(self):  # http.server's name
        if self.path.split("?")[0] == "/health":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_error(404)

    def log_message(self, *args):  # no access log: the replayed log is the output
        pass


def serve_health(host: str, port: int) -> None:
    server = ThreadingHTTPServer((host, port), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main(argv) -> int:
    name = os.environ.get("SPARKPILOT_REPLAY", "")
    path = os.path.join(SCRIPTS, f"{name}.json")
    if not name or not os.path.exists(path):
        known = sorted(f[:-5] for f in os.listdir(SCRIPTS) if f.endswith(".json"))
        print(f"replay: SPARKPILOT_REPLAY={name!r} names no recorded start (known: {' '.join(known)})",
              file=sys.stderr)
        return 2
    with open(path) as fh:
        script = json.load(fh)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    scale = time_scale()
    host, port = arg(argv, "--host", "0.0.0.0"), int(arg(argv, "--port", "8000"))
    start = time.monotonic()
    for i, (offset, line) in enumerate(script["lines"]):
        delay = start + offset * scale - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        print(line, flush=True)
        if script.get("health_at") == i:
            serve_health(host, port)
    if script["end"] == "exit":
        return int(script.get("exit_code", 1))
    while True:  # hang, or serve until stopped
        time.sleep(3600)


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args[1:] if args[:1] == ["serve"] else args))
