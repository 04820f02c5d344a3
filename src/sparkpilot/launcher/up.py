"""`up`: a plan's deployment from nothing to a judged answer, as a stream of Events.

    u = Up(dep, runners, UpOptions(...))
    for event in u.events(): render(event)     # raises LaunchFailed (after teardown) on failure

Steps: refuse a second start of the same name; pre-flight (preflight.py); model and image on
every node (sync.py); the containers, head first (containers.py, executors.py); the live logs
until ready (watch.py); /v1/models and one judged smoke chat (readiness.py, judge.py); then a
supervisor when asked (supervisor.py). A failure at any point (or Ctrl-C before ready) removes
every container of the deployment on every node before it is reported as done.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sparkpilot.launcher import containers, executors, preflight, readiness, sync
from sparkpilot.launcher.deployment import LABEL, Deployment
from sparkpilot.launcher.events import Event, LaunchFailed
from sparkpilot.secrets import mask_secrets
from sparkpilot.transport.base import Runner


MODELS_WAIT_S = 60.0     # /v1/models after /health (the API server may still be finishing)
SMOKE_TIMEOUT_S = 300.0  # the first chat of a cold engine (a CPU or loaded machine is slow)


@dataclass
class UpOptions:
    dry_run: bool = False
    force: bool = False              # pre-flight errors do not stop the launch
    drop_caches: bool = False        # consent to drop the page cache (sudo -n) where memory is short
    preflight: bool = True
    sync: bool = True
    smoke: bool = True
    hang_timeout: float | None = None
    ready_timeout: float | None = None
    restart: str | None = None       # "on-failure[:N]"
    logs: bool = False               # log lines as events (for --follow / --verbose)
    stack: str | None = None         # for lint's pre-flight


class Up:
    def __init__(self, dep: Deployment, runners: dict[int, Runner], opts: UpOptions | None = None):
        self.dep, self.runners, self.opts = dep, runners, opts or UpOptions()
        self.started = time.monotonic()
        self.launched = False
        self.torn_down = False
        self.ended = False               # the done event was given (an interrupt after it changes nothing)
        self.result: dict[str, Any] = {}
        self.driver_version: str | None = None
        self.homes: dict[int, str] = {}     # each node's $HOME (asked once)
        self.others: dict[str, list[str]] = {}   # node name -> other sparkpilot deployments running there
        self.restarts = 0                # whole-deployment restarts before ready (--restart)
        self.watch_started: float | None = None
        self.watch: Any = None

    def run_on(self, rank: int, argv: list[str], timeout: float = 60.0) -> Any:
        return self.runners[rank].run(argv, timeout=timeout)

    # ------------------------------------------------------------------ the whole thing
    def events(self) -> Generator[Event, None, None]:
        dep, opts = self.dep, self.opts
        yield Event("step", f"{dep.name}: {dep.model} on {len(dep.nodes)} node(s), executor {dep.executor}",
                    phase=None, data={"step": "plan", "executor": dep.executor,
                                      "why": executors.why(dep.executor, dep.plan),
                                      "nodes": [{"name": n.name, "host": n.host, "role": n.role} for n in dep.nodes],
                                      "eta_s": dep.eta.get("total")})
        # read-only questions first, side by side: pre-flight's probes and the model and image
        # checks' (home, image id, model listing), while up asks whether the deployment runs already
        pf = preflight.Preflight(dep, self.runners, opts) if opts.preflight else None
        syncing = sync.Sync(dep, self.runners, dry_run=opts.dry_run) if opts.sync else None
        if pf is not None:
            pf.start()
        if syncing is not None:
            syncing.prefetch()
        yield from self._refuse_running()
        if pf is not None:
            pf.other_deployments = self.others
        try:
            if pf is not None:
                yield Event("step", "pre-flight", data={"step": "preflight"})
                yield from pf.run()
                self.driver_version = pf.driver_version
            if syncing is not None:
                yield Event("step", "model and image on every node", data={"step": "sync"})
                yield from syncing.run()
                self.homes.update(syncing.homes)
            yield Event("step", "launch", data={"step": "launch"})
            yield from self._launch()
            if pf is not None:   # doctor's other findings, from the probes collected meanwhile
                yield from pf.advisory()
            if opts.dry_run:
                self.ended = True
                then = ["follow every node's `docker logs` by phase", f"/health and /v1/models on port {dep.port}",
                        "one smoke chat, judged"] + (["start the supervisor"] if opts.restart else [])
                yield Event("step", "then: " + "; ".join(then), data={"step": "then"})
                yield Event("done", "dry run: nothing was changed", data={"outcome": "dry-run", "exit": 0})
                return
            yield Event("step", "progress", data={"step": "progress"})
            yield from self._watch_restarting()
            yield from self._ready()
        except LaunchFailed as exc:
            yield from self._teardown("the launch failed")
            self.ended = True
            yield Event("done", str(exc), data={"outcome": "failed", "exit": exc.exit_code,
                                                "torn_down": self.launched})
            raise
        except KeyboardInterrupt:
            yield from self.interrupted()
            raise
        except GeneratorExit:  # closed unfinished (the caller stopped reading): tear down without a word
            for _ in self._teardown("abandoned before ready"):
                pass
            raise
        except BaseException as exc:  # a bug or a lost host mid-launch: never leave containers behind
            if self.launched:
                yield from self._teardown(f"{type(exc).__name__}: {exc}")
            raise
        if opts.restart:
            from sparkpilot.launcher import supervisor

            yield from supervisor.start(dep, opts.restart, self.restarts)
        self.ended = True
        yield Event("done", f"ready: {dep.endpoint}", data={"outcome": "ready", "exit": 0, **self.result})

    def interrupted(self) -> Iterator[Event]:
        """Ctrl-C before ready: every container of the deployment removed. events() does this itself;
        the caller does it when the interrupt reached it outside events() (while showing an event)."""
        if self.ended:
            return
        self.ended = True
        yield from self._teardown("interrupted before ready")
        yield Event("done", "interrupted: every container of the deployment removed",
                    data={"outcome": "incomplete", "exit": 130})

    # ------------------------------------------------------------------ steps
    def _refuse_running(self) -> Iterator[Event]:
        every = self._each(lambda rank: containers.ps(self.runners[rank]))   # every sparkpilot container
        found = [[c for c in cs if c.labels.get(LABEL) == self.dep.name] for cs in every]
        self.others = {n.name: sorted({c.labels.get(LABEL, "?") for c in cs if c.running} - {self.dep.name})
                       for n, cs in zip(self.dep.nodes, every, strict=False)}
        self.others = {k: v for k, v in self.others.items() if v}
        running = [(n, c) for n, cs in zip(self.dep.nodes, found, strict=False) for c in cs if c.running]
        if running:
            where = ", ".join(f"{n.name} ({c.status})" for n, c in running)
            raise LaunchFailed(f"deployment {self.dep.name} is already running on {where}: "
                               f"`sparkpilot down {self.dep.name}` first, or give another --name and --port")
        for node, cs in zip(self.dep.nodes, found, strict=False):
            if cs and not self.opts.dry_run:
                containers.remove(self.runners[node.rank], self.dep.name)
                yield Event("teardown", f"removed {len(cs)} stopped container(s) of an earlier {self.dep.name}",
                            node=node.name, data={"removed": [c.name for c in cs]})

    def _launch(self) -> Iterator[Event]:
        dep = self.dep
        for node in dep.nodes:   # the head first: workers join its address
            runner = self.runners[node.rank]
            home = self.homes.get(node.rank) or containers.node_home(runner)
            env_file = None
            if os.environ.get("HF_TOKEN") and not self.opts.dry_run:
                env_file = self._token_file(runner, home)
            argv = containers.run_argv(dep, node, home, env_file)
            yield Event("command", mask_secrets(_shell(argv)), node=node.name,
                        data={"argv": [mask_secrets(a) for a in argv], "dry_run": self.opts.dry_run})
            if self.opts.dry_run:
                continue
            self.launched = True
            try:   # the compile cache folder, then docker run: one round trip
                res = runner.run(["sh", "-c", 'mkdir -p "$1" || exit 97; shift; exec "$@"', "sh",
                                  f"{home}/{containers.COMPILE_CACHE}", *argv], timeout=120.0)
            finally:
                if env_file:
                    runner.run(["rm", "-f", env_file], timeout=15.0)
            if res.rc == 97:
                raise LaunchFailed(f"{node.name}: cannot make the compile cache folder: {res.stderr.strip()}")
            if res.rc != 0:
                lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip() and "--help" not in ln]
                why = (lines or [f"exit {res.rc}"])[-1]
                raise LaunchFailed(f"{node.name}: docker run failed: {mask_secrets(why)}")
            yield Event("container", f"started {dep.container} ({res.stdout.strip()[:12]})", node=node.name,
                        phase="container_start", data={"container": dep.container, "id": res.stdout.strip()[:12]})

    def _token_file(self, runner: Runner, home: str) -> str | None:
        """HF_TOKEN for the container by name: a 0600 env file on the node, removed after docker run."""
        path = f"{home}/.cache/sparkpilot/{self.dep.name}.env"
        runner.run(["mkdir", "-p", f"{home}/.cache/sparkpilot"], timeout=15.0)
        runner.write_bytes(path, f"HF_TOKEN={os.environ['HF_TOKEN']}\n".encode(), 0o600)
        return path

    def _watch_restarting(self) -> Iterator[Event]:
        """The start followed until ready. With --restart, a failure before ready that may pass
        (SPU020) restarts every container on every node, after a back-off, counted against N."""
        from sparkpilot.launcher import supervisor

        limit = supervisor.parse_policy(self.opts.restart) if self.opts.restart else 0
        while True:
            try:
                yield from self._watch()
                return
            except LaunchFailed as exc:
                if not self.opts.restart:
                    raise
                ok, why = supervisor.restartable(exc.failure)
                if self.watch is not None and self.watch.timed_out:
                    ok, why = False, "not ready within --timeout: not restarted"
                elif ok and limit is not None and self.restarts >= limit:
                    ok, why = False, f"{self.restarts} restart(s) done, the limit of --restart {self.opts.restart}"
                if not ok:
                    yield Event("supervisor", f"not restarting: {why}",
                                data={"restart": None, "reason": str(exc), "why": why})
                    raise
                delay = supervisor.backoff(self.restarts)
                self.restarts += 1
                of = f" of {limit}" if limit is not None else ""
                yield Event("supervisor", f"{exc}: {why}; every container on every node, in {delay:.0f} s "
                                          f"(restart {self.restarts}{of})",
                            data={"restart": self.restarts, "limit": limit, "reason": str(exc), "why": why,
                                  "class": getattr(exc.failure, "cls", None), "delay_s": round(delay, 1)})
            yield from teardown(self.dep.name, [(n.name, self.runners[n.rank]) for n in self.dep.nodes])
            time.sleep(delay)
            yield from self._launch()

    def _watch(self) -> Iterator[Event]:
        from sparkpilot.launcher.watch import Watch

        now = time.monotonic()
        self.watch_started = self.watch_started or now
        timeout = self.opts.ready_timeout   # from the first start: a restart does not extend it
        if timeout:
            timeout = max(1.0, timeout - (now - self.watch_started))
        w = Watch(self.dep, self.runners, hang_timeout=self.opts.hang_timeout,
                  driver_version=self.driver_version, ready_timeout=timeout, logs=self.opts.logs)
        self.watch = w
        yield from w.run()
        if w.failure is not None:
            f = w.failure
            raise LaunchFailed(f"{f.cls}: {f.message}", failure=f)
        self.result["seconds_to_health"] = round(time.monotonic() - self.started, 2)

    def _ready(self) -> Iterator[Event]:
        dep, head = self.dep, self.runners[0]
        models = None
        deadline = time.monotonic() + MODELS_WAIT_S
        while time.monotonic() < deadline:
            models = readiness.served_models(head, dep.port)
            if models:
                break
            time.sleep(0.5)
        if not models and self.opts.smoke:
            raise LaunchFailed(f"/health answers but /v1/models lists no model on {dep.endpoint_host()}:{dep.port}")
        self.result.update({"endpoint": dep.endpoint, "served_model": models[0] if models else None})
        if not self.opts.smoke:
            total = round(time.monotonic() - self.started, 2)
            self.result["seconds_to_ready"] = total
            yield Event("ready", f"ready in {total:.1f} s (no smoke chat: --no-smoke"
                                 f"{'; /v1/models lists no model' if not models else ''}): {dep.endpoint}",
                        phase="ready", data=dict(self.result))
            return
        assert models   # a smoke run without a model refused above
        smoke = readiness.smoke_chat(head, dep.port, models[0], timeout=SMOKE_TIMEOUT_S)
        if smoke.error:
            yield Event("smoke", f"no answer: {smoke.error}", node=dep.head.name, data={**smoke.to_dict(), "verdict": None})
            raise LaunchFailed(f"the smoke chat failed: {smoke.error}")
        from sparkpilot.launcher.judge import judge

        verdict = judge(smoke.answer, smoke.token_probs)
        yield Event("smoke", smoke.answer or "", data={**smoke.to_dict(), **verdict.to_dict()})
        if not verdict.ok:
            f = verdict.failure
            yield Event("failure", f.message, node=dep.head.name, phase="ready", data={"failure": f.to_dict()})
            raise LaunchFailed(f"{f.cls}: {f.message}", failure=f)
        total = round(time.monotonic() - self.started, 2)
        self.result.update({"seconds_to_ready": total, "ttft_s": smoke.ttft_s})
        yield Event("ready", f"ready in {total:.1f} s, first token in {smoke.ttft_s or 0:.2f} s: {dep.endpoint}",
                    phase="ready", data=dict(self.result))

    def _teardown(self, why: str) -> Iterator[Event]:
        if not self.launched or self.torn_down:
            return
        self.torn_down = True
        yield Event("step", f"teardown ({why})", data={"step": "teardown"})
        yield from teardown(self.dep.name, [(n.name, self.runners[n.rank]) for n in self.dep.nodes])

    def _each(self, fn) -> list[Any]:
        with ThreadPoolExecutor(max_workers=max(1, len(self.dep.nodes))) as pool:
            return list(pool.map(fn, [n.rank for n in self.dep.nodes]))


def teardown(name: str, nodes: list[tuple[str, Any]]) -> Iterator[Event]:
    """Remove every container of deployment `name` on every node, side by side; one event a node."""
    def one(item: tuple[str, Any]) -> tuple[str, list[Any], str | None]:
        node, runner = item
        try:
            return node, containers.remove(runner, name), None
        except Exception as exc:  # noqa: BLE001 - one node's trouble must not stop the others' teardown
            return node, [], str(exc)

    with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
        results = list(pool.map(one, nodes))
    for node, removed, error in results:
        if error:
            yield Event("teardown", f"could not remove: {error}", node=node, data={"removed": [], "error": error})
        else:
            yield Event("teardown", f"removed {', '.join(c.name for c in removed) or 'nothing (none left)'}",
                        node=node, data={"removed": [c.name for c in removed]})


def _shell(argv: list[str]) -> str:
    import shlex

    return shlex.join(argv)
