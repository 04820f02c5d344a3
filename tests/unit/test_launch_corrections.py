"""Issue 8: each correction, tested on the real public launch, log or recording it came from (the source
is named beside each test). Every test here failed before the change (main 3eb2460)."""

from __future__ import annotations

import json

import pytest

from sparkpilot import models
from sparkpilot.cli.main import main
from sparkpilot.errors import UsageError
from sparkpilot.interconnect import NodeNet, RoceDevice
from sparkpilot.planner import PlanRequest, plan
from sparkpilot.planner.launch import NoValidLaunch
from sparkpilot.rules.lint import lint_launch
from sparkpilot.vllm.parse import parse_text


def info(mid: str):
    found = models.lookup(mid)
    assert found is not None, f"{mid} is in the catalog"
    return found


def opt(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


# 1. --moe-backend marlin on unquantised MoE: vLLM's map_unquantized_backend raises
#    (vllm/model_executor/layers/fused_moe/oracle/unquantized.py; vllm-project/vllm#56832)
@pytest.mark.parametrize("mid", ["Qwen/Qwen3-30B-A3B", "Qwen/Qwen3-Coder-30B-A3B-Instruct", "zai-org/GLM-4.5-Air",
                                 "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "Qwen/Qwen3.6-35B-A3B"])
def test_bf16_moe_is_planned_on_triton_not_marlin(mid):
    p = plan(PlanRequest(mid, nodes=1), info(mid))
    assert opt(p.launch.nodes[0].argv, "--moe-backend") == "triton"


def test_quantised_moe_stays_on_marlin():
    for mid in ("Qwen/Qwen3-30B-A3B-FP8", "Qwen/Qwen3-235B-A22B-GPTQ-Int4", "openai/gpt-oss-120b"):
        p = plan(PlanRequest(mid, nodes=1 if "235B" not in mid else 2), info(mid))
        head = p.launch.nodes[0]
        text = head.argv[-1] if head.argv[0] == "bash" else " ".join(head.argv)
        assert "--moe-backend marlin" in text, mid


def test_unquantised_mtp_drafter_under_marlin_gets_its_own_backend():
    # nchapman/Qwen3.6-35B-A3B-int4-AutoRound keeps mtp.* in BF16 (its card: "kept in BF16: ... mtp.*"):
    # the shape of vllm-project/vllm#56832 (quantised routed experts, BF16 MTP head)
    mid = "nchapman/Qwen3.6-35B-A3B-int4-AutoRound"
    p = plan(PlanRequest(mid, nodes=1, speculative_tokens=3), info(mid))
    argv = p.launch.nodes[0].argv
    assert opt(argv, "--moe-backend") == "marlin"
    assert json.loads(opt(argv, "--speculative-config"))["moe_backend"] == "triton"
    with pytest.raises(NoValidLaunch, match="moe_backend"):   # vLLM 0.17.1 has no SpeculativeConfig.moe_backend
        plan(PlanRequest(mid, nodes=1, speculative_tokens=3, stack="ngc-26.03"), info(mid))


def test_lint_reports_the_issue_56832_launch():
    text = ("vllm serve /models/RadixArk/Qwen3.8-Flash-Next-NVFP4 --tensor-parallel-size 2 --moe-backend marlin "
            "--speculative-config '{\"method\":\"mtp\",\"num_speculative_tokens\":3}'")
    found = lint_launch(parse_text(text), nodes=2, model_info={"moe": True, "quant": "nvfp4", "drafter_quant": False})
    hits = [f for f in found if f.rule == "moe-backend"]
    assert hits and hits[0].severity == "error" and "moe_backend" in hits[0].edits[0].value


# 2. NCCL_IB_GID_INDEX by the stack's NCCL (2.21+: default -1 picks the RoCEv2 GID itself; a pinned index
#    breaks when the GID table reorders: tonyd2wild/DeepSeek-v4-Flash-Vision-Exp-DSpark-1M-NVFP4-KV-2x-DGX-Spark PR 40)
PAIR = [NodeNet("a", [RoceDevice("rocep1s0f1", "enp1s0f1np1", "Up", 3, "192.168.100.10")]),
        NodeNet("b", [RoceDevice("rocep1s0f1", "enp1s0f1np1", "Up", 4, "192.168.100.11")])]


def test_gid_index_left_to_nccl_on_new_stacks_and_set_per_node_where_nccl_is_unknown():
    new = plan(PlanRequest("Qwen/Qwen3-32B", node_names=["a", "b"], node_nets=PAIR), info("Qwen/Qwen3-32B"))
    assert all("NCCL_IB_GID_INDEX" not in n.env for n in new.launch.nodes)
    assert any("NCCL_IB_GID_INDEX is left unset" in n for n in new.notes)
    old = plan(PlanRequest("Qwen/Qwen3-32B", node_names=["a", "b"], node_nets=PAIR, stack="eugr"),
               info("Qwen/Qwen3-32B"))
    assert [n.env["NCCL_IB_GID_INDEX"] for n in old.launch.nodes] == ["3", "4"]


def test_a_port_without_ipv4_is_named():
    nets = [NodeNet("a", [RoceDevice("rocep1s0f1", "enp1s0f1np1", "Up", 3, "192.168.100.10"),
                          RoceDevice("roceP2p1s0f1", "enP2p1s0f1np1", "Up", None, None)]), PAIR[1]]
    p = plan(PlanRequest("Qwen/Qwen3-32B", node_names=["a", "b"], node_nets=nets), info("Qwen/Qwen3-32B"))
    assert any("enP2p1s0f1np1 up without an IPv4 address" in n for n in p.notes)


# 3. multi-node containers without the RDMA devices fall back to sockets (timothystewart6/vllm-gb10 compose:
#    "privileged is required on GB10 to reach full throughput (~40+ t/s). Without it ... ~24 t/s")
def test_multi_node_docker_run_carries_the_rdma_devices():
    for executor in ("ray", "native"):
        p = plan(PlanRequest("Qwen/Qwen3-32B", nodes=2, executor=executor), info("Qwen/Qwen3-32B"))
        for node in p.launch.nodes:
            run = node.docker_run
            assert run[run.index("--device") + 1] == "/dev/infiniband" and "memlock=-1" in run and "--ipc=host" in run
    single = plan(PlanRequest("Qwen/Qwen3-32B", nodes=1), info("Qwen/Qwen3-32B")).launch.nodes[0].docker_run
    assert "/dev/infiniband" not in single


# 4. context beyond the positions: vLLM refuses ("User-specified max_model_len (131072) is greater than the
#    derived max_model_len", vllm-project/vllm#3676)
def test_max_model_len_above_positions_is_refused_with_the_largest_valid(capsys):
    with pytest.raises(UsageError, match="largest valid is 40960"):
        plan(PlanRequest("Qwen/Qwen3-32B", nodes=1, max_model_len=131072), info("Qwen/Qwen3-32B"))
    assert main(["plan", "Qwen/Qwen3-32B", "--max-model-len", "131072", "--offline"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "40960" in err


# 5. a busy host (replay://busy: the real `free -h` of spark-3bee, 27 GiB of 121 GiB available while ComfyUI held
#    the rest; llm-d on DGX Spark how-to): the verdict is in the headline, with doctor's figure
def test_busy_host_verdict_is_in_the_headline_with_doctors_figure(capsys):
    assert main(["plan", "Qwen/Qwen3-32B", "--host", "replay://busy", "--offline"]) == 1
    out = capsys.readouterr().out
    head = out.splitlines()[0]
    assert head.endswith("WILL NOT START on replay://busy") and "FITS" not in head
    assert "would start now is 0.22" in out and "other processes hold 94.0 GiB" in out
    assert "Holding the most memory: not known" in out          # the recording has no process list
    main(["doctor", "--host", "replay://busy", "--format", "json"])
    checks = json.loads(capsys.readouterr().out)["hosts"][0]["checks"]
    budget = next(c for c in checks if c["name"] == "memory-budget")
    assert budget["data"]["max_gpu_memory_utilization"] == 0.22
    # a model that fits at that figure gets the command that starts
    assert main(["plan", "Qwen/Qwen3-8B", "--host", "replay://busy", "--offline"]) == 1
    out = capsys.readouterr().out
    assert "try: sparkpilot plan Qwen/Qwen3-8B --host replay://busy --gpu-memory-utilization 0.22" in out


def test_long_docker_run_lines_are_wrapped_one_option_a_line(capsys):
    assert main(["plan", "openai/gpt-oss-120b", "--offline"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("  docker run \\"):].splitlines()
    run = []
    for line in block:
        run.append(line)
        if not line.endswith("\\"):
            break
    assert len(run) > 10 and all(len(line) <= 100 for line in run)
    assert any(line.strip() == "--moe-backend marlin \\" for line in run)
    assert any(line.strip() == "nvcr.io/nvidia/vllm:26.04-py3 \\" for line in run)


# 6. stacks whose vLLM lacks a flag (flag tables generated from the vLLM wheels; NGC 25.10 = vLLM 0.10.2,
#    NGC 26.01 = vLLM 0.11.1 per NVIDIA's release notes), and Ray as a fact of the image
def test_old_stacks_get_the_equivalent_or_a_refusal():
    p = plan(PlanRequest("Qwen/Qwen3-30B-A3B-FP8", nodes=1, stack="ngc-25.10"), info("Qwen/Qwen3-30B-A3B-FP8"))
    node = p.launch.nodes[0]
    assert node.env["VLLM_ATTENTION_BACKEND"] == "TRITON_ATTN_VLLM_V1"
    for flag in ("--attention-backend", "--moe-backend", "--max-cudagraph-capture-size"):
        assert flag not in node.argv
    with pytest.raises(NoValidLaunch, match="native multi-node"):
        plan(PlanRequest("Qwen/Qwen3-32B", nodes=2, executor="native", stack="ngc-25.10"), info("Qwen/Qwen3-32B"))


def test_executor_follows_the_images_ray():
    q = info("Qwen/Qwen3-32B")
    assert plan(PlanRequest("Qwen/Qwen3-32B", nodes=2, stack="ngc-26.03"), q).launch.executor == "ray"
    unknown = plan(PlanRequest("Qwen/Qwen3-32B", nodes=2), q)             # NGC 26.04: not published
    assert unknown.launch.executor == "native" and any("may not have Ray" in n for n in unknown.notes)
    detected = plan(PlanRequest("Qwen/Qwen3-32B", nodes=2, ray_detected=True), q)
    assert detected.launch.executor == "ray"
    asked = plan(PlanRequest("Qwen/Qwen3-32B", nodes=2, executor="ray"), q)
    assert all("pip install 'ray[default]'" in n.argv[-1] for n in asked.launch.nodes)
    upstream_new = plan(PlanRequest("Qwen/Qwen3-32B", nodes=2, image="vllm/vllm-openai:v0.20.1"), q)
    assert upstream_new.launch.executor == "native"   # vLLM dropped Ray for 0.18 (vllm-project/vllm#33351)
    upstream_old = plan(PlanRequest("Qwen/Qwen3-32B", nodes=2, image="vllm/vllm-openai:v0.11.1"), q)
    assert upstream_old.launch.executor == "ray"


# 7. severity matches harm: FP8 and AWQ MoE without --moe-backend run (warning); marlin on BF16 MoE does not (error)
def test_moe_backend_severity_matches_harm():
    fp8 = lint_launch(parse_text("vllm serve Qwen/Qwen3-30B-A3B-FP8 --kv-cache-dtype fp8"))
    assert [f.severity for f in fp8 if f.rule == "moe-backend"] == ["warning"]
    bf16 = lint_launch(parse_text("vllm serve Qwen/Qwen3-30B-A3B --moe-backend marlin"))
    assert [f.severity for f in bf16 if f.rule == "moe-backend"] == ["error"]
    assert not [f for f in lint_launch(parse_text("vllm serve Qwen/Qwen3-30B-A3B --moe-backend triton"))
                if f.rule == "moe-backend"]


def test_lint_with_hosts_errors_where_the_pinned_index_is_not_the_nodes(capsys):
    # replay://pair: two cabled Sparks whose RoCEv2 IPv4 GID index is 3 (recorded sysfs GID tables)
    launch = ["NCCL_IB_GID_INDEX=4", "vllm", "serve", "Qwen/Qwen3-32B", "-tp", "2", "--nnodes", "2", "--node-rank", "0",
              "--master-addr", "192.168.100.10", "--gpu-memory-utilization", "0.85"]
    hosts = ["--host", "replay://pair/spark-a", "--host", "replay://pair/spark-b"]
    assert main(["lint", *hosts, "--format", "json", "--", *launch]) == 1
    found = json.loads(capsys.readouterr().out)["findings"]
    gid = [f for f in found if f["rule"] == "nccl-gid-index"]
    assert gid[0]["severity"] == "error" and "spark-b's RoCEv2 IPv4 GID index is 3" in gid[0]["message"]
    launch[0] = "NCCL_IB_GID_INDEX=3"     # right on both nodes, on a stack whose NCCL is not known: nothing to say
    assert main(["lint", *hosts, "--stack", "eugr", "--format", "json", "--", *launch]) == 0
    assert not [f for f in json.loads(capsys.readouterr().out)["findings"] if f["rule"] == "nccl-gid-index"]


def test_every_stack_records_its_nccl_and_ray_with_a_source():
    from sparkpilot.rules import stacks

    for s in stacks.all_stacks():
        assert "nccl" in s and s.get("nccl_source"), s["name"]
        assert "ray" in s and s.get("ray_source"), s["name"]


def test_ray_detected_in_the_image_decides_the_executor():
    """The image-ray probe's recorded answers (tests/data/probes/image-ray) read into plan's Ray fact."""
    from pathlib import Path

    from sparkpilot.planner.hosts import ray_in_image as _ray_in_image
    from sparkpilot.facts import ClusterFacts, HostFacts, classify
    from sparkpilot.probes import image_ray_probe

    data = Path(__file__).resolve().parent.parent / "data" / "probes" / "image-ray"

    def host(case: str) -> HostFacts:
        rec = json.loads((data / f"{case}.json").read_text())
        h = HostFacts(case)
        h.results["image-ray"] = classify(image_ray_probe("IMAGE"), rec["rc"], rec["stdout"], rec["stderr"], 10.0)
        return h

    assert _ray_in_image(ClusterFacts(hosts=[host("ray-installed"), host("ray-installed")])) is True
    assert _ray_in_image(ClusterFacts(hosts=[host("ray-installed"), host("no-ray")])) is False
    assert _ray_in_image(ClusterFacts(hosts=[host("no-image")])) is None
    q = info("Qwen/Qwen3-32B")
    assert plan(PlanRequest("Qwen/Qwen3-32B", nodes=2, ray_detected=False, stack="eugr"), q).launch.executor == "native"
