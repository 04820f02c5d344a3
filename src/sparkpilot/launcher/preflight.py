"""Pre-flight for `up`: before anything starts, on every node.

- doctor's blocking checks (an unreachable node, driver 590.x, MTU mismatch or a failed
  don't-fragment ping between nodes, a page cache that leaves too little memory, memory held by
  others, a compute process on the GPU: gpu-idle); the rest of doctor's findings are shown, not blocking;
- lint on each node's final launch (the docker run up will run, labels and all), judged against
  the model's own config.json read on the head (its folder or Hub cache there): a plan file edited
  to a --max-model-len beyond the model's positions is refused here (SPL017, as `plan` refuses it;
  with VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 in the launch, a warning), not by vLLM minutes later;
- unified memory per node: free memory (the page cache counted as what it is, not as free)
  against the plan's budget (--gpu-memory-utilization x total). Short because of the page cache:
  with --drop-caches it is dropped (sudo -n, through changes.Change); without, the command is shown.
Errors refuse the launch (LaunchFailed) unless --force.

Pre-flight waits only for what its blocking checks and the memory check read (NEEDED). Every
other probe of doctor's (`apt-mark showhold` alone loads the whole apt cache, ~1.1 s; the image's
CUDA, thermals, clocks, ...) runs beside them, and `advisory()` says the other checks' findings
once the containers are starting: shown, never blocking.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

# at the top, not in the functions: imported with launcher.up, while the ssh handshakes run
from sparkpilot import checks, facts
from sparkpilot.facts.probing import run_all
from sparkpilot.launcher.deployment import Deployment
from sparkpilot.launcher.events import Event, LaunchFailed
from sparkpilot.probes import PROBES, image_cuda_probe
from sparkpilot.rules.lint import lint_launch
from sparkpilot.transport.base import Runner
from sparkpilot.vllm.parse import parse_argv

BLOCKING = ("driver-version", "page-cache", "memory-budget", "gpu-idle", "mtu-match", "peer-reachable")
# what the BLOCKING checks and memory() read: the driver (nvidia-smi, its -q PERFORMANCE, the
# packages), /proc/meminfo, the processes on the GPU (plain nvidia-smi), the QSFP ports' MTU (ip addr,
# ibdev2netdev); the pings ride along
NEEDED = frozenset({"nvidia-smi", "nvidia-smi-perf", "gpu-processes", "packages", "meminfo", "ip-addr",
                    "ibdev2netdev"})
DROP_CACHES = ["sudo", "-n", "sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"]
GIB_KB = 1024 * 1024
HOME = "@HOME@"   # the node's $HOME in a path, expanded by CAT_CONFIG on the node (no round trip to ask it)
# the newest folder matching the path (a Hub snapshot's `snapshots/*`), its config.json
CAT_CONFIG = ["sh", "-c", f'p="$1"; case "$p" in {HOME}*) p="$HOME${{p#{HOME}}}";; esac; '
              'd=$(ls -d $p 2>/dev/null | tail -n 1); [ -n "$d" ] && cat "$d/config.json"', "sh"]


class Preflight:
    def __init__(self, dep: Deployment, runners: dict[int, Runner], opts: Any):
        self.dep, self.runners, self.opts = dep, runners, opts
        self.errors: list[str] = []
        self.driver_version: str | None = None
        self._deferred: list[Any] = []     # (node, thread, results) of the probes not NEEDED
        self._collected: Any = None        # start(): the call that gives the NEEDED probes' facts
        self._config: Any = None           # start(): the call that gives model_info()'s answer
        # node name -> other sparkpilot deployments running there (up fills it): their engine on the GPU
        # is expected, so gpu-idle is a warning there, not a refusal ("another name on another port")
        self.other_deployments: dict[str, list[str]] = {}

    def start(self) -> None:
        """Send doctor's probes out to every node now (read-only; e.g. while up asks whether the
        deployment already runs); run() waits for them."""
        if self._collected is None:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preflight-config")
            self._config = pool.submit(self.model_info).result
            pool.shutdown(wait=False)
            self._collected = self._collect_beside()

    def run(self) -> Iterator[Event]:
        self.start()                         # doctor's probes out to every node first,
        collected = self._collected
        lint_errors: list[str] = []
        lint_events = list(self.lint(lint_errors))   # and lint (no host needed) while they are out
        yield from self.doctor(collected())
        self.errors += lint_errors
        yield from lint_events
        yield from self.memory()
        if self.errors:
            if self.opts.dry_run:
                yield Event("check", f"a real run would stop here: {len(self.errors)} pre-flight error(s) "
                                     "(--force starts anyway)", data={"status": "fail", "errors": self.errors})
            elif self.opts.force:
                yield Event("check", f"{len(self.errors)} pre-flight error(s) overridden by --force",
                            data={"status": "warn", "errors": self.errors})
            else:
                raise LaunchFailed("pre-flight: " + "; ".join(self.errors) + " (--force starts anyway)")

    # ------------------------------------------------------------------ doctor
    def _collect_beside(self) -> Any:
        """facts.collect of the NEEDED probes on every node in a thread (the others in theirs); the returned
        call gives the ClusterFacts once back, or raises what collect raised."""
        from concurrent.futures import ThreadPoolExecutor

        runners = [self.runners[n.rank] for n in self.dep.nodes]
        self._start_deferred()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preflight-collect")
        # the image's probes (its CUDA; its Ray only guides planning, done by now) are not NEEDED
        future = pool.submit(facts.collect, runners, ping=len(runners) > 1, image=None,
                             skip=tuple(p for p in PROBES if p not in NEEDED))
        pool.shutdown(wait=False)
        return future.result

    def doctor(self, cluster: Any) -> Iterator[Event]:

        self.cluster = cluster
        for node, hf in zip(self.dep.nodes, self.cluster.hosts, strict=False):
            hf.name = node.name
        ev = checks.evaluate(self.cluster)
        for node, (hf, results) in zip(self.dep.nodes, ev.hosts, strict=False):
            if not hf.reachable:
                self.errors.append(f"{node.name} not reachable: {hf.reason}")
                yield Event("check", f"not reachable: {hf.reason}", node=node.name,
                            data={"id": "", "name": "reachable", "status": "fail"})
                continue
            drv = next((r.data.get("driver") for r in results if r.name == "driver-version"), None)
            self.driver_version = self.driver_version or drv
            yield from self._results(node.name, [r for r in results if r.name in BLOCKING])
        yield from self._results(None, [r for r in ev.cluster if r.name in BLOCKING])

    def _results(self, node: str | None, results: list[Any]) -> Iterator[Event]:
        for r in results:
            others = self.other_deployments.get(node or "", [])
            if r.name == "gpu-idle" and r.status == "fail" and others:
                r.status = "warn"
                r.message += (f" (the GPU also serves sparkpilot deployment(s) {', '.join(others)}: two engines "
                              "share one GPU's memory, so their --gpu-memory-utilization must add up)")
            blocking = r.name in BLOCKING and r.status == "fail"
            if blocking:
                self.errors.append(f"{node + ': ' if node else ''}{r.name} ({r.id}): {r.message}")
            if r.status in ("fail", "warn") or blocking:
                yield Event("check", f"{r.name} ({r.id}): {r.message}", node=node,
                            data={"id": r.id, "name": r.name, "status": r.status, "fix": r.fix,
                                  "blocking": blocking})

    def _start_deferred(self) -> None:
        import threading


        probes = [p for pid, p in PROBES.items() if pid not in NEEDED] + \
            ([image_cuda_probe(self.dep.image)] if self.dep.image else [])

        def one(runner: Runner, out: dict[str, Any]) -> None:
            try:
                out.update({r.probe: r for r in run_all(runner, probes, 10.0)})
            except Exception:  # noqa: BLE001 - advisory probes that fail leave their checks unknown
                return

        for node in self.dep.nodes:
            results: dict[str, Any] = {}
            t = threading.Thread(target=one, args=(self.runners[node.rank], results), daemon=True,
                                 name=f"preflight-advisory-{node.rank}")
            t.start()
            self._deferred.append((node, t, results))

    def advisory(self, wait: float = 15.0) -> Iterator[Event]:
        """Doctor's other (not blocking) findings, once the probes they read are back."""

        hosts = self.cluster.hosts if hasattr(self, "cluster") else []
        back = True
        for (_node, t, results), hf in zip(self._deferred, hosts, strict=False):
            t.join(wait)
            back = back and not t.is_alive()
            if not t.is_alive() and hf.reachable:
                hf.results.update(results)
        if not hosts:
            return
        ev = checks.evaluate(self.cluster)
        for (node, t, _), (hf, results) in zip(self._deferred, ev.hosts, strict=False):
            if hf.reachable and not t.is_alive():
                yield from self._results(node.name, [r for r in results if r.name not in BLOCKING])
        if back:
            yield from self._results(None, [r for r in ev.cluster if r.name not in BLOCKING])

    # ------------------------------------------------------------------ lint
    def model_info(self) -> tuple[Any, str]:
        """(ModelInfo from the model's config.json on the head, where it was read), or (None, why)."""
        from sparkpilot.launcher import sync
        from sparkpilot.models.mapping import from_config

        node = self.dep.head
        where = sync.model_root(self.dep, node, HOME)
        if where is None:
            return None, "the model is neither a folder nor a Hub id on the node"
        path = f"{node.name}:{where[0].replace(HOME, '~')}/config.json"
        try:
            res = self.runners[node.rank].run(CAT_CONFIG + [where[0]], timeout=30.0)
        except Exception as exc:  # noqa: BLE001 - an unreachable head is doctor's finding, not lint's
            return None, f"{path}: {exc}"
        if res.rc != 0 or not res.stdout.strip():
            return None, f"no {path} (sync sends or downloads the model)"
        try:
            return from_config(json.loads(res.stdout), model_id=self.dep.model, sources={"config": path}), path
        except (ValueError, TypeError) as exc:
            return None, f"{path} is not a JSON object ({exc})"

    def lint(self, errors: list[str]) -> Iterator[Event]:
        info, where = self._config() if self._config else self.model_info()
        if info is None:
            yield Event("check", f"model config: not read ({where}); lint judges the launch without it",
                        node=self.dep.head.name, data={"name": "model-config", "status": "unknown"})
        for node in self.dep.nodes:
            try:
                spec = parse_argv(node.launch.docker_run)
            except Exception as exc:  # noqa: BLE001 - a launch lint cannot read is said, not a crash
                yield Event("check", f"lint could not read this node's launch: {exc}", node=node.name,
                            data={"name": "lint", "status": "unknown"})
                continue
            for f in lint_launch(spec, nodes=len(self.dep.nodes), stack=self.opts.stack, model_info=info):
                if f.severity == "error":
                    errors.append(f"{node.name}: lint {f.rule} ({f.id}): {f.message}")
                if f.severity in ("error", "warning"):
                    yield Event("check", f"lint {f.rule} ({f.id}): {f.message}", node=node.name,
                                data={"id": f.id, "name": f.rule, "status": "fail" if f.severity == "error" else "warn",
                                      "fix": f.fix, "blocking": f.severity == "error"})

    # ------------------------------------------------------------------ unified memory
    def memory(self) -> Iterator[Event]:
        util = float(self.dep.plan.get("gpu_memory_utilization") or 0)
        drops = []
        for node, hf in zip(self.dep.nodes, self.cluster.hosts, strict=False):
            mem = hf.get("meminfo") if hf.reachable else None
            if not util or not mem or getattr(mem, "mem_free_kb", None) is None:
                yield Event("check", "unified memory: unknown (no /proc/meminfo)", node=node.name,
                            data={"name": "unified-memory", "status": "unknown"})
                continue
            total = mem.mem_total_kb / GIB_KB
            free = mem.mem_free_kb / GIB_KB
            cache = (mem.page_cache_kb or 0) / GIB_KB
            budget = util * total
            data = {"name": "unified-memory", "budget_gib": round(budget, 1), "free_gib": round(free, 1),
                    "page_cache_gib": round(cache, 1), "total_gib": round(total, 1)}
            text = (f"unified memory: {free:.1f} GiB free, {cache:.1f} GiB page cache; the plan needs "
                    f"{budget:.1f} GiB ({util:.2f} x {total:.1f} GiB)")
            if free >= budget:
                yield Event("check", text, node=node.name, data={**data, "status": "pass"})
            elif free + cache >= budget:
                cmd = " ".join(DROP_CACHES[:4]) + " '" + DROP_CACHES[4] + "'"
                if self.opts.drop_caches:
                    drops.append(node)
                    yield Event("check", text + ": dropping the page cache (--drop-caches)", node=node.name,
                                data={**data, "status": "warn", "fix": cmd})
                else:
                    self.errors.append(f"{node.name}: the page cache holds memory the plan needs; "
                                       f"drop it with `{cmd}` or give --drop-caches")
                    yield Event("check", text + f": drop the page cache first: {cmd} (or --drop-caches)",
                                node=node.name, data={**data, "status": "fail", "fix": cmd, "blocking": True})
            else:
                self.errors.append(f"{node.name}: {budget - free - cache:.1f} GiB short of the plan's budget "
                                   "even without the page cache: other processes hold it")
                yield Event("check", text + ": other processes hold the rest; stop them or plan with a lower "
                                            "--gpu-memory-utilization", node=node.name,
                            data={**data, "status": "fail", "blocking": True})
        if drops and not self.opts.dry_run:
            yield from self._drop(drops)

    def _drop(self, nodes: list[Any]) -> Iterator[Event]:
        from sparkpilot import changes

        todo = [changes.Change(n.host, tuple(DROP_CACHES), description="up --drop-caches") for n in nodes]
        results = changes.apply(todo, runners={n.host: self.runners[n.rank] for n in nodes})
        for node, res in zip(nodes, results, strict=False):
            ok = res.outcome == "done"
            if ok:   # the memory check's error for this node is answered
                self.errors = [e for e in self.errors if not e.startswith(f"{node.name}: the page cache")]
            else:
                self.errors.append(f"{node.name}: dropping the page cache: {res.outcome} {res.detail}".strip())
            yield Event("check", f"drop caches: {res.outcome} {res.detail}".strip(), node=node.name,
                        data={"name": "drop-caches", "status": "pass" if ok else "fail"})
