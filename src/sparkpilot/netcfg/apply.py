"""`net apply --apply`: snapshot and arm every node's own rollback, change, prove, then cancel.

1. every node that changes: snapshot (rollback.arm_script) + a timer on the host
   (runner.start_detached: it outlives this session);
2. the nmcli steps of the plan as sparkpilot.changes.Change, per node, side by side;
3. wait until each planned port carries its address at MTU 9000;
4. don't-fragment pings of MTU-28 bytes from every port to every peer port of its segment
   (every rail, both ways);
5. all answered: cancel every timer. Otherwise roll every node back now (the timers would do it
   at their deadline anyway, e.g. when this session is gone).
"""

from __future__ import annotations

import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from sparkpilot.changes import Change
from sparkpilot.changes import apply as apply_changes
from sparkpilot.errors import TransportError, UsageError
from sparkpilot.knowledge.fabric import limit
from sparkpilot.netcfg import rollback
from sparkpilot.netcfg.plan import NetPlan


@dataclass
class PingOutcome:
    src: str
    dst: str
    port: str
    address: str
    ok: bool


@dataclass
class ApplyResult:
    stamp: str | None
    outcome: str                       # unchanged, applied, rolled-back, failed
    lines: list[str] = field(default_factory=list)
    pings: list[PingOutcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot": self.stamp, "outcome": self.outcome, "log": self.lines,
                "pings": [p.__dict__ for p in self.pings]}


def _root(runner: Any, script: str, timeout: float) -> Any:
    return runner.run(["sudo", "-n", "sh", "-c", script], timeout=timeout)


def _parallel(fn: Callable[[int], Any], items: list[int]) -> list[Any]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(items))) as pool:
        return list(pool.map(fn, items))


def ping_script(targets: list[str], mtu: int) -> str:
    size = mtu - 28
    one = ("if ping -M do -s {size} -c 1 -i 0.2 -w 2 {a} >/dev/null 2>&1 || "
           "ping -M do -s {size} -c 1 -i 0.2 -w 2 {a} >/dev/null 2>&1; then echo \"ok {a}\"; "
           "else echo \"fail {a}\"; fi &")
    return " ".join(one.format(size=size, a=shlex.quote(a)) for a in targets) + " wait"


def df_pings(plan: NetPlan, runners: list[Any], timeout: float) -> list[PingOutcome]:
    """Each port pings every other port of its segment: every rail, both ways."""
    mtu = int(limit("mtu"))
    jobs: dict[int, list[tuple[str, str, str]]] = {}
    for seg in plan.fabric.segments:
        for i, port in seg:
            for j, peer_port in seg:
                addr = plan.nodes[j].ports.get(peer_port)
                if (i, port) != (j, peer_port) and addr:
                    jobs.setdefault(i, []).append((plan.nodes[j].name, port, addr.split("/")[0]))

    def send(i: int) -> list[PingOutcome]:
        targets = jobs[i]
        try:
            res = runners[i].run(["sh", "-c", ping_script([t[2] for t in targets], mtu)], timeout=timeout)
            ok = {ln.split()[1] for ln in res.stdout.splitlines() if ln.startswith("ok ")}
        except TransportError:
            ok = set()
        return [PingOutcome(plan.nodes[i].name, dst, port, addr, addr in ok) for dst, port, addr in targets]

    return [p for ps in _parallel(send, sorted(jobs)) for p in ps]


def _wait_ports(plan: NetPlan, runners: list[Any], nodes: list[int], timeout: float, settle: float) -> list[str]:
    """Until every planned port has its address and MTU; returns what is still missing."""
    from sparkpilot.probes.netdev import parse_ip_addr

    mtu = int(limit("mtu"))
    missing: list[str] = []
    deadline = time.monotonic() + settle
    while True:
        missing = []
        for i in nodes:
            try:
                links = parse_ip_addr(runners[i].run(["ip", "-j", "addr", "show"], timeout=timeout).stdout)
            except (TransportError, ValueError) as exc:
                missing.append(f"{plan.nodes[i].name}: {exc}")
                continue
            for port, addr in plan.nodes[i].ports.items():
                ln = links.get(port)
                if ln is None or addr not in ln.ipv4 or ln.mtu != mtu:
                    missing.append(f"{plan.nodes[i].name} {port}: "
                                   + ("absent" if ln is None else f"{', '.join(ln.ipv4) or 'no address'} MTU {ln.mtu}"))
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.3)


def apply(plan: NetPlan, runners: list[Any], *, seconds: int = 90, timeout: float = 30.0,
          say: Callable[[str], None] = lambda s: None) -> ApplyResult:
    changing = [i for i, n in enumerate(plan.nodes) if n.steps]
    if not changing:
        return ApplyResult(None, "unchanged", ["nothing to change: the fabric is as planned"])
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    result = ApplyResult(stamp, "applied")

    def log(line: str) -> None:
        result.lines.append(line)
        say(line)

    def arm(i: int) -> str | None:
        ports = list(plan.nodes[i].ports)
        try:
            res = _root(runners[i], rollback.arm_script(stamp, seconds, ports), timeout)
            if res.rc != 0 or "armed" not in res.stdout:
                return f"{plan.nodes[i].name}: could not snapshot ({(res.stderr or res.stdout).strip()[:200]})"
            timer = runners[i].start_detached(rollback.timer_argv(stamp), rollback.timer_unit(stamp))
        except (TransportError, UsageError) as exc:
            return f"{plan.nodes[i].name}: could not arm the rollback ({exc})"
        log(f"{plan.nodes[i].name}: snapshot {stamp}, rollback armed ({timer.kind}"
            f"{f' pid {timer.pid}' if timer.pid else ''}, {seconds} s)")
        return None

    errors = [e for e in _parallel(arm, changing) if e]
    if errors:
        _parallel(lambda i: _root(runners[i], rollback.cancel_script(stamp), timeout), changing)
        return ApplyResult(stamp, "failed", [*result.lines, *errors, "nothing was changed"])

    def change(i: int) -> str | None:
        node = plan.nodes[i]
        todo = [Change(node.host, tuple(s.argv if s.argv[-2] != "up" else [*s.argv[:3], "-w", "20", *s.argv[3:]]),
                       description=s.why, timeout=timeout + 30) for s in node.steps]
        results = apply_changes(todo, {node.host: runners[i]}, timeout=timeout)
        bad = [r for r in results if r.outcome != "done"]
        if bad:
            return f"{node.name}: {bad[0].change.command}: {bad[0].outcome} {bad[0].detail}".strip()
        log(f"{node.name}: {len(results)} nmcli step(s) done")
        return None

    errors = [e for e in _parallel(change, changing) if e]
    everyone = list(range(len(plan.nodes)))
    if not errors:
        errors = _wait_ports(plan, runners, everyone, timeout, settle=20.0)
    if not errors:
        result.pings = df_pings(plan, runners, timeout)
        bad = [p for p in result.pings if not p.ok]
        mtu = int(limit("mtu"))
        log(f"don't-fragment pings ({mtu - 28} bytes): {len(result.pings) - len(bad)}/{len(result.pings)} answered")
        errors = [f"{p.src} {p.port} -> {p.dst} {p.address}: no answer" for p in bad]
    if not errors:
        fired = [plan.nodes[i].name for i, out in zip(changing, _parallel(
            lambda i: _root(runners[i], rollback.cancel_script(stamp), timeout).stdout, changing), strict=True) if "fired" in out]
        if fired:
            result.outcome = "rolled-back"
            log(f"the rollback had already fired on {', '.join(fired)} (past its deadline): apply again")
        else:
            log("every peer answered on every rail: rollback cancelled")
        return result
    for e in errors:
        log(e)
    log("rolling back every node to its snapshot")

    def fire(i: int) -> str:
        try:
            return _root(runners[i], rollback.fire_script(stamp), timeout + 30).stdout.strip()
        except TransportError as exc:
            return f"unreachable ({exc}); its own timer rolls it back at the deadline"

    for i, out in zip(changing, _parallel(fire, changing), strict=True):
        log(f"{plan.nodes[i].name}: " + ("restored" if out.endswith("0") else out))
    result.outcome = "rolled-back"
    return result
