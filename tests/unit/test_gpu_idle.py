"""gpu-idle (SPD017): the Processes section of plain `nvidia-smi`, judged on real recorded tables
(tests/data/probes/gpu-processes: a GB10 desktop, the same GB10 running VLLM::EngineCore, a 580-driver
table with no process), and its place among up's blocking pre-flight checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkpilot.checks import run_host_checks
from sparkpilot.facts import HostFacts, classify
from sparkpilot.probes import PROBES

DATA = Path(__file__).resolve().parent.parent / "data"
CASES = DATA / "probes" / "gpu-processes"


def facts_from(stdout: str, rc: int = 0, stderr: str = "") -> HostFacts:
    h = HostFacts("spark")
    h.results["gpu-processes"] = classify(PROBES["gpu-processes"], rc, stdout, stderr, 10.0)
    return h


def case(name: str) -> HostFacts:
    c = json.loads((CASES / f"{name}.json").read_text())
    return facts_from(c["stdout"], c["rc"], c.get("stderr", ""))


def gpu_idle(h: HostFacts):
    return next(r for r in run_host_checks(h) if r.name == "gpu-idle")


def test_parser_reads_every_row_of_the_busy_gb10_and_tells_compute_from_graphics():
    procs = case("gb10_surfer_vllm").get("gpu-processes")
    assert [(p.pid, p.type, p.name) for p in procs.processes] == [
        (2804, "G", "/usr/lib/xorg/Xorg"), (3060, "G", "/usr/bin/gnome-shell"), (2283430, "C", "VLLM::EngineCore")]
    assert [p.pid for p in procs.compute] == [2283430] and procs.compute[0].memory_mib == 61383.0
    assert [p.pid for p in procs.graphics] == [2804, 3060]


def test_a_compute_process_fails_naming_its_pid_name_and_the_fix():
    r = gpu_idle(case("gb10_surfer_vllm"))
    assert r.status == "fail" and r.id == "SPD017"
    assert "pid 2283430 VLLM::EngineCore (type C, 59.9 GiB)" in r.message
    assert "kill 2283430" in r.fix and "sparkpilot down" in r.fix
    assert [p["pid"] for p in r.data["processes"]] == [2804, 3060, 2283430]


def test_a_c_plus_g_process_is_a_warning_not_a_refusal():
    """C+G (compute and graphics; the real row seen is a desktop component, gnome-remote-desktop-daemon
    at 20 MiB, its path cut to '...'): named in a warning, never blocking up."""
    h = case("geforce_940mx_c_plus_g")
    assert [p.pid for p in h.get("gpu-processes").compute] == [4320]
    r = gpu_idle(h)
    assert r.status == "warn" and "pid 4320 ...libexec/gnome-remote-desktop-daemon (type C+G, 20 MiB)" in r.message
    assert "/usr/lib/xorg/Xorg" not in r.message      # the graphics-only row is not named as the culprit


def test_the_desktop_alone_passes_with_a_note():
    r = gpu_idle(case("gb10_surfer_desktop"))
    assert r.status == "pass"
    assert "graphics only" in r.message and "/usr/lib/xorg/Xorg (2804)" in r.message and "227 MiB" in r.message


def test_no_running_processes_found_passes():
    r = gpu_idle(case("t4g_no_processes"))
    assert r.status == "pass" and "no process on the GPU" in r.message and r.data["processes"] == []


@pytest.mark.parametrize("stdout,rc,stderr,reason", [
    ("", 127, "sh: 1: nvidia-smi: not found\n", "not installed"),
    (None, None, "", "couldn't communicate with the NVIDIA driver"),
    # the CSV query's answer is not the table: never read as "no process"
    ("name, driver_version\nNVIDIA GB10, 580.126.09\n", 0, "", "not an nvidia-smi table"),
])
def test_when_the_table_cannot_be_read_the_check_is_unknown(stdout, rc, stderr, reason):
    if stdout is None:
        h = case("driver_not_loaded_on_spark")
    else:
        h = facts_from(stdout, rc, stderr)
    r = gpu_idle(h)
    assert r.status == "unknown" and reason in r.message


class TableNode:
    """replay://single whose plain `nvidia-smi` answers with a recorded table (or fails)."""

    name = "spark"
    recorded = True

    def __init__(self, table: str | None):
        from sparkpilot.transport import connect

        self.replay, self.table = connect("replay://single"), table

    def run(self, argv, timeout=10.0):
        from sparkpilot.transport.base import CommandResult

        if list(argv) == ["nvidia-smi"]:
            if self.table is None:
                return CommandResult(127, "", "sh: 1: nvidia-smi: not found\n", 0.01)
            return CommandResult(0, json.loads((CASES / f"{self.table}.json").read_text())["stdout"], "", 0.35)
        return self.replay.run(argv, timeout=timeout)

    def run_many(self, argvs, timeout=10.0):
        return [self.run(a, timeout) for a in argvs]


def preflight_errors(table: str | None, others: dict | None = None) -> tuple[list[str], list]:
    from sparkpilot.launcher.deployment import Deployment
    from sparkpilot.launcher.preflight import Preflight
    from sparkpilot.launcher.up import UpOptions

    plan = json.loads((DATA / "up" / "plan-single-qwen3-32b.json").read_text())
    runners: dict = {0: TableNode(table)}   # a Runner by duck typing (replay://single with a table)
    pf = Preflight(Deployment.from_plan(plan, [], name="x"), runners, UpOptions(force=True))
    pf.other_deployments = others or {}
    events = list(pf.run())
    return pf.errors, events


def test_up_preflight_blocks_on_a_compute_process_and_says_its_fix():
    from sparkpilot.launcher.preflight import BLOCKING, NEEDED

    assert "gpu-idle" in BLOCKING and "gpu-processes" in NEEDED
    errors, events = preflight_errors("gb10_surfer_vllm")
    assert any("gpu-idle (SPD017): the GPU is not idle" in e and "VLLM::EngineCore" in e
               for e in errors), errors
    ev = next(e for e in events if e.data.get("name") == "gpu-idle")
    assert ev.data["blocking"] and "sparkpilot down" in ev.data["fix"]


@pytest.mark.parametrize("table", ["gb10_surfer_desktop", None])
def test_up_preflight_does_not_block_on_the_desktop_or_when_nvidia_smi_cannot_run(table):
    errors, events = preflight_errors(table)
    assert not [e for e in errors if "gpu-idle" in e]
    assert not [e for e in events if e.data.get("name") == "gpu-idle" and e.data.get("blocking")]


def test_another_sparkpilot_deployment_on_the_node_makes_gpu_idle_a_warning():
    """issue 12: "another name on another port is fine": the compute process up finds may be the other
    deployment's engine, so on a node running another sparkpilot deployment gpu-idle warns, naming it."""
    from sparkpilot.launcher.deployment import Deployment

    plan = json.loads((DATA / "up" / "plan-single-qwen3-32b.json").read_text())
    node = Deployment.from_plan(plan, [], name="x").nodes[0].name
    errors, events = preflight_errors("gb10_surfer_vllm", {node: ["chat"]})
    assert not [e for e in errors if "gpu-idle" in e], errors
    ev = next(e for e in events if e.data.get("name") == "gpu-idle")
    assert ev.data["status"] == "warn" and not ev.data["blocking"]
    assert "sparkpilot deployment(s) chat" in ev.message and "VLLM::EngineCore" in ev.message
