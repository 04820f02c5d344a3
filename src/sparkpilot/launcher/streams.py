"""Several nodes' log streams merged into one queue of (node, line), read by the launcher's loop.

Each stream is the node runner's `stream(argv)` (transport/base.py), read in a thread; stopping
the merge stops every stream. A stream that ends (the container exited, the connection dropped)
puts (node, None) once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from typing import Any

from sparkpilot.transport.base import LineStream, Runner

END = None


class Merged:
    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, str | None]] = queue.Queue()
        self._streams: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopped = False

    def add(self, node: str, runner: Runner, argv: Sequence[str]) -> None:
        stream = open_stream(runner, argv)
        with self._lock:
            if self._stopped:
                stream.stop()
                return
            self._streams.append(stream)
        t = threading.Thread(target=self._pump, args=(node, stream), daemon=True, name=f"logs-{node}")
        self._threads.append(t)
        t.start()

    def _pump(self, node: str, stream: Any) -> None:
        try:
            for line in stream:
                if self._stopped:
                    break
                self.queue.put((node, line.rstrip("\n")))
        except Exception as exc:  # noqa: BLE001 - a broken stream ends that node's log, never the launcher
            self.queue.put((node, f"sparkpilot: log stream broke: {type(exc).__name__}: {exc}"))
        finally:
            self.queue.put((node, END))

    def get(self, timeout: float) -> tuple[str, str | None] | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            streams = list(self._streams)
        for s in streams:
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - stopping is best effort
                pass
        for t in self._threads:
            t.join(timeout=2.0)


def open_stream(runner: Runner, argv: Sequence[str]) -> LineStream:
    return runner.stream(argv)
