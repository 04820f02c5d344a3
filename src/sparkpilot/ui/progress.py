"""Render `up`'s events: progress bars on a terminal (rich, imported only here), plain lines when
piped, one JSON object a line with --format json. The core never prints; this does.

    r = renderer(fmt="text", stream=sys.stdout)   # picks rich on a terminal
    for ev in events: r.event(ev)
    r.close()
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

STEP_TITLES = {"plan": None, "preflight": "pre-flight", "sync": "model and image on every node",
               "launch": "launch", "progress": "progress", "teardown": None}
STATUS_WORD = {"pass": "ok", "warn": "warn", "fail": "FAIL", "unknown": "?"}


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


class JsonRenderer:
    def __init__(self, stream: TextIO):
        self.stream = stream

    def event(self, ev: Any) -> None:
        self.stream.write(json.dumps(ev.to_dict(), ensure_ascii=False, default=str) + "\n")
        self.stream.flush()

    def close(self) -> None:
        pass


class TextRenderer:
    """Plain lines: what a log file or a pipe gets, and what rich prints around its bars."""

    def __init__(self, stream: TextIO, verbose: bool = False):
        self.stream, self.verbose = stream, verbose
        self.width = 0
        self.failed_shown = False

    def out(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def node(self, ev: Any) -> str:
        return f"  {ev.node:<{max(self.width, 8)}}  " if ev.node else "  "

    def event(self, ev: Any) -> None:
        d, k = ev.data, ev.kind
        if k == "step":
            step = d.get("step")
            if step == "plan":
                self.width = max((len(n["name"]) for n in d.get("nodes", [])), default=8)
                self.out(f"up {ev.message}")
                self.out(f"  executor {d.get('executor')}: {d.get('why')}")
                for n in d.get("nodes", []):
                    self.out(f"  {n['name']:<{self.width}}  {n['role']:<6}  {n['host']}")
                if d.get("eta_s"):
                    self.out(f"  plan's start-up estimate: {fmt_s(d['eta_s'])}")
            elif step == "teardown":
                self.out(ev.message)
            else:
                self.out(STEP_TITLES.get(step) or ev.message)
        elif k == "check":
            word = STATUS_WORD.get(d.get("status", ""), d.get("status", ""))
            self.out(f"{self.node(ev)}{word:<4}  {ev.message}")
            if d.get("fix") and d.get("status") == "fail":
                self.out(f"{self.node(ev)}      fix: {d['fix']}")
        elif k == "command":
            self.out(f"{self.node(ev)}{'would run' if d.get('dry_run') else '$'} {ev.message}")
        elif k in ("sync", "container", "teardown", "supervisor"):
            self.out(f"{self.node(ev)}{ev.message}")
        elif k == "phase":
            eta = d.get("eta_s")
            at = d.get("elapsed_s")
            extra = f"  (at {fmt_s(at)}; expected ~{fmt_s(eta)})" if eta is not None else ""
            self.out(f"{self.node(ev)}{ev.message}{extra}")
        elif k == "progress":
            self.out(f"{self.node(ev)}{ev.message}")
        elif k == "log":
            if self.verbose:
                self.out(f"{ev.node or '':>{max(self.width, 8)}} | {ev.message}")
        elif k == "stall":
            self.out(f"{self.node(ev)}warning: {ev.message} (fails at {fmt_s(d.get('fails_at_s'))})")
        elif k == "hang":
            self.out(f"{self.node(ev)}hang: {ev.message}")
        elif k == "failure":
            self.failed_shown = True
            f = d.get("failure") or {}
            self.out(f"failed: {f.get('class')}{' (' + f['id'] + ')' if f.get('id') else ''}"
                     f"{' on ' + ev.node if ev.node else ''}{' in ' + ev.phase if ev.phase else ''}")
            self.out(f"  cause: {f.get('message')}")
            for line in (f.get("evidence") or [f.get("line")])[:3]:
                if line:
                    self.out(f"  evidence: {line}")
            if f.get("fix"):
                self.out(f"  fix: {f['fix']}")
            if f.get("class"):
                self.out(f"  more: sparkpilot explain {f['class']}")
        elif k == "ready":
            if ev.phase == "ready":
                self.out(ev.message)
        elif k == "smoke":
            if d.get("verdict") is None:
                self.out(f"  smoke chat: {ev.message}")
            else:
                self.out(f"  smoke chat: {d.get('answer')!r} ({d.get('verdict')})")
        elif k == "done":
            outcome = d.get("outcome")
            if outcome == "ready":
                self.out(f"serving: {d.get('endpoint')} (model {d.get('served_model')})")
            elif outcome == "failed":
                if not self.failed_shown:
                    self.out(f"failed: {ev.message}")
                if d.get("torn_down"):
                    self.out("every container of the deployment was removed; exit 1")
            elif outcome == "dry-run":
                self.out(ev.message)
        else:
            self.out(f"{self.node(ev)}{ev.message}")

    def close(self) -> None:
        pass


class RichRenderer(TextRenderer):
    """Plain lines above, and a bar per node for the phase it is in (elapsed against the plan's ETA)."""

    def __init__(self, stream: TextIO, verbose: bool = False):
        super().__init__(stream, verbose)
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(file=stream)
        self.progress = Progress(TextColumn("  {task.fields[node]:<10}"), TextColumn("{task.description:<18}"),
                                 BarColumn(), TimeElapsedColumn(), TextColumn("{task.fields[eta]}"),
                                 console=self.console, transient=True)
        self.tasks: dict[str, Any] = {}
        self.started = False

    def out(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def event(self, ev: Any) -> None:
        if ev.kind == "phase" and ev.node:
            if not self.started:
                self.progress.start()
                self.started = True
            eta = ev.data.get("eta_s") or 1.0
            task = self.tasks.get(ev.node)
            if task is None:
                task = self.tasks[ev.node] = self.progress.add_task(ev.message, node=ev.node, eta="", total=eta)
            self.progress.reset(task, total=eta, description=ev.message, eta=f"~{fmt_s(eta)}")
            self.progress.start_task(task)
        elif ev.kind == "progress" and ev.node in self.tasks:
            d = ev.data
            if d.get("shards_total"):
                self.progress.update(self.tasks[ev.node], description=f"weights {d['shards_done']}/{d['shards_total']}")
        ends = ev.kind in ("ready", "failure", "done") or (ev.kind == "step" and ev.data.get("step") == "teardown")
        if ends and self.started:
            self.progress.stop()
            self.started = False
        if ev.kind != "phase" or not self.started:
            super().event(ev)
        if self.started:
            for task in self.tasks.values():
                t = self.progress.tasks[task] if isinstance(task, int) else None
                if t is not None and t.total:
                    self.progress.update(task, completed=min(t.elapsed or 0, t.total))

    def close(self) -> None:
        if self.started:
            self.progress.stop()


def renderer(fmt: str = "text", stream: TextIO | None = None, verbose: bool = False):
    stream = stream or sys.stdout
    if fmt == "json":
        return JsonRenderer(stream)
    if stream.isatty():
        try:
            return RichRenderer(stream, verbose)
        except ImportError:
            pass
    return TextRenderer(stream, verbose)
