"""Doctor checks: pure functions over facts, one registry table.

Each check takes a HostFacts (scope "host") or a ClusterFacts (scope "cluster") and returns a
CheckResult with a status word (pass, warn, fail, skip, unknown; CONTRACTS.md), a one-line message,
a fix and data. Ids, names, why and fix texts live in knowledge/checks.yaml (SPD###).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from sparkpilot.words import Status

STATUSES = ("pass", "warn", "fail", "skip", "unknown")


@dataclass
class CheckResult:
    status: Status
    message: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    commands: list[list[str]] = field(default_factory=list)   # what --fix prints and --apply runs
    id: str = ""
    name: str = ""
    host: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.data)
        if self.commands:
            data["fix_commands"] = [" ".join(_quote(a) for a in c) for c in self.commands]
        return {"id": self.id, "name": self.name, "status": self.status, "message": self.message,
                "fix": self.fix, "data": data}


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def unknown(reason: Any, **data: Any) -> CheckResult:
    return CheckResult("unknown", str(getattr(reason, "reason", reason)), data=data)


@dataclass(frozen=True)
class Check:
    id: str
    name: str
    scope: str            # "host" or "cluster"
    func: Callable[..., CheckResult]


def registry() -> list[Check]:
    """THE table of doctor checks, in report order."""
    from sparkpilot.checks import cluster, gpu, host, net

    return [
        Check("SPD001", "gb10", "host", host.check_gb10),
        Check("SPD002", "driver-version", "host", host.check_driver_version),
        Check("SPD003", "driver-held", "host", host.check_driver_held),
        Check("SPD004", "stack-versions", "host", host.check_stack_versions),
        Check("SPD005", "page-cache", "host", host.check_page_cache),
        Check("SPD006", "memory-budget", "host", host.check_memory_budget),
        Check("SPD007", "mtu", "host", net.check_mtu),
        Check("SPD008", "netplan-ignored", "host", net.check_netplan_ignored),
        Check("SPD009", "roce-gid", "host", net.check_roce_gid),
        Check("SPD010", "qsfp-ports", "host", net.check_qsfp_ports),
        Check("SPD011", "thermals", "host", host.check_thermals),
        Check("SPD012", "peer-reachable", "cluster", cluster.check_peer_reachable),
        Check("SPD013", "mtu-match", "cluster", cluster.check_mtu_match),
        Check("SPD014", "stack-match", "cluster", cluster.check_stack_match),
        Check("SPD015", "clock-sync", "cluster", cluster.check_clock_sync),
        Check("SPD016", "roce-gid-match", "cluster", cluster.check_roce_gid_match),
        Check("SPD017", "gpu-idle", "host", gpu.check_gpu_idle),
    ]


def _knowledge(check_id: str) -> dict[str, Any]:
    from sparkpilot import knowledge

    return next((e for e in knowledge.load("checks") if e.get("id") == check_id), {})


def _finish(check: Check, result: CheckResult, host: str | None) -> CheckResult:
    result.id, result.name, result.host = check.id, check.name, host
    if result.status not in STATUSES:
        raise ValueError(f"{check.name}: bad status {result.status}")
    if result.status in ("warn", "fail") and not result.fix:
        result.fix = _knowledge(check.id).get("fix_short") or None
    return result


def run_host_checks(facts: Any, cluster: Any = None) -> list[CheckResult]:
    out = []
    for check in registry():
        if check.scope != "host":
            continue
        if not facts.reachable:
            out.append(_finish(check, CheckResult("unknown", f"host not reachable: {facts.reason}"), facts.host))
            continue
        try:
            res = check.func(facts, cluster) if check.name == "roce-gid" else check.func(facts)
        except Exception as exc:  # noqa: BLE001 - a check bug is an unknown for that check, not a crash
            res = CheckResult("unknown", f"check failed: {type(exc).__name__}: {exc}")
        out.append(_finish(check, res, facts.host))
    return out


def run_cluster_checks(cluster: Any) -> list[CheckResult]:
    out = []
    for check in registry():
        if check.scope != "cluster":
            continue
        try:
            res = check.func(cluster)
        except Exception as exc:  # noqa: BLE001
            res = CheckResult("unknown", f"check failed: {type(exc).__name__}: {exc}")
        out.append(_finish(check, res, None))
    return out


@dataclass
class Evaluation:
    hosts: list[tuple[Any, list[CheckResult]]]       # (HostFacts, its results)
    cluster: list[CheckResult]

    def to_dict(self) -> dict[str, Any]:
        """The doctor report, JSON-shaped as CONTRACTS.md says."""
        hosts = []
        for h, results in self.hosts:
            entry: dict[str, Any] = {"host": h.host, "reachable": h.reachable}
            if not h.reachable:
                entry["reason"] = h.reason
            entry["checks"] = [c.to_dict() for c in results]
            hosts.append(entry)
        return {"hosts": hosts, "cluster": {"checks": [c.to_dict() for c in self.cluster]}}

    def all_results(self) -> list[CheckResult]:
        return [c for _, rs in self.hosts for c in rs] + list(self.cluster)


def evaluate(cluster: Any) -> Evaluation:
    return Evaluation([(h, run_host_checks(h, cluster)) for h in cluster.hosts], run_cluster_checks(cluster))


def report(cluster: Any) -> dict[str, Any]:
    return evaluate(cluster).to_dict()


def failed(report_: dict[str, Any]) -> bool:
    checks = [c for h in report_["hosts"] for c in h["checks"]] + report_["cluster"]["checks"]
    return any(c["status"] == "fail" for c in checks) or any(not h["reachable"] for h in report_["hosts"])
