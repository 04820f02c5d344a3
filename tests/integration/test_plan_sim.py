"""`sparkpilot plan --inventory` on the simulated cluster: the interconnect environment is read per
node over real ssh, and a pair whose nodes have different RoCEv2 GID indexes gets a launch with each
node's own index where the stack's NCCL needs it (CONTRACTS.md "Per-node launch", "The interconnect
environment"), and none where NCCL 2.21+ picks it itself; either lints clean."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def sparkpilot(cluster, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparkpilot", *args], capture_output=True, text=True,
                          env=cluster.env(), timeout=120)


def test_plan_reads_each_nodes_gid_index_and_addresses(sim_factory, tmp_path):
    cluster = sim_factory(["healthy", "gid-4"])
    out = tmp_path / "plan.json"
    # eugr's image has Ray and does not publish its NCCL version: each node gets its own index
    proc = sparkpilot(cluster, "plan", "Qwen/Qwen3-235B-A22B-GPTQ-Int4", "--inventory", cluster.inventory(),
                      "--offline", "--format", "json", "--output", str(out), "--stack", "eugr")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(out.read_text())
    assert plan["nodes"] == 2 and plan["tensor_parallel_size"] == 2 and plan["executor"] == "ray"
    head, worker = plan["launch"]["nodes"]
    assert head["role"] == "head" and worker["role"] == "worker"
    assert head["env"]["NCCL_IB_GID_INDEX"] == "3"
    assert worker["env"]["NCCL_IB_GID_INDEX"] == "4"        # the gid-4 node's own index
    for node, sim_node in zip((head, worker), cluster.nodes, strict=False):
        env = node["env"]
        assert env["RAY_memory_monitor_refresh_ms"] == "0"
        assert env["VLLM_HOST_IP"] in sim_node.qsfp_ips.values()
        assert env["NCCL_SOCKET_IFNAME"] in sim_node.qsfp_ips
        assert not any(v.startswith("<") for v in env.values()), env
    # the worker joins the head's Ray at the head's interconnect address
    assert f"--address={head['env']['VLLM_HOST_IP']}:6379" in " ".join(worker["argv"])
    # the head's `docker run` line, as printed, lints clean under the same stack
    lint = subprocess.run([sys.executable, "-m", "sparkpilot", "lint", "--nodes", "2", "--stack", "eugr", "--format",
                           "json", "--", *head["docker_run"]], capture_output=True, text=True, timeout=60)
    findings = json.loads(lint.stdout)["findings"]
    assert lint.returncode == 0 and not [f for f in findings if f["severity"] == "error"], findings
    # the default stack (NGC 26.04, NCCL 2.27.7+): no index pinned on either node, and vLLM's native mode
    proc = sparkpilot(cluster, "plan", "Qwen/Qwen3-235B-A22B-GPTQ-Int4", "--inventory", cluster.inventory(),
                      "--offline", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["executor"] == "native"
    assert all("NCCL_IB_GID_INDEX" not in n["env"] for n in plan["launch"]["nodes"])
    assert all("/dev/infiniband" in n["docker_run"] for n in plan["launch"]["nodes"])


def test_plan_with_an_unreachable_node_says_so_in_one_line(sim_factory):
    cluster = sim_factory(["healthy", "unreachable"])
    proc = sparkpilot(cluster, "plan", "openai/gpt-oss-120b", "--inventory", cluster.inventory(), "--offline")
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
