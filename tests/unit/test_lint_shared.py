"""Lint every real launch in ../shared/data/commands and compare with its hand labels.

Labels map to rule names by the CONTRACTS.md table. `gpu_memory_utilization_above_0.90` means the
error level of gpu-memory-utilization (warnings below 0.90 are not that label). Where lint disagrees
with a label for a reason, DISAGREE says why and the test asserts lint's answer.
"""

from __future__ import annotations

import json
import re

import pytest

from sparkpilot.rules.lint import lint_launch
from sparkpilot.vllm.parse import parse_text

LABELS = {
    "gpu_memory_utilization_above_0.90": "gpu-memory-utilization",
    "enforce_eager": "enforce-eager",
    "flashinfer_attention": "flashinfer-attention",
    "fastsafetensors": "fastsafetensors",
    "cutlass_fp4_quant": "cutlass-fp4",
    "mxfp4_on_non_gpt_oss": "mxfp4-non-gpt-oss",
    "missing_ray_memory_monitor_env": "ray-memory-monitor",
    "missing_nccl_ib_gid_index": "nccl-gid-index",
    "tp_gt_1_without_ray": "tp-needs-cluster",
    "moe_backend_not_marlin": "moe-backend",
}
MAPPED = set(LABELS.values())

# case id -> {rule: (lint fires it?, why lint disagrees with the label)}
DISAGREE = {
    "014": {"ray-memory-monitor": (True, "a bare `vllm serve -tp 2` on one-GPU Sparks runs on a Ray cluster and the "
                                         "launch does not show RAY_memory_monitor_refresh_ms=0 (the playbook sets it "
                                         "in run_cluster.sh, outside the labelled command); lint warns and says so")},
    "032": {"flashinfer-attention": (False, "VLLM_USE_FLASHINFER_MOE_FP4=1 selects FlashInfer's FP4 MoE kernels, not "
                                            "the attention backend; lint reports it under cutlass-fp4"),
            "moe-backend": (False, "NVFP4 experts without Marlin run the CUTLASS FP4 kernel: lint reports that once, "
                                   "under cutlass-fp4 (error), not again under moe-backend (issue 8)")},
    "003": {"moe-backend": (False, "--moe-backend cutlass on NVFP4 experts is the CUTLASS FP4 kernel: lint reports it "
                                   "under cutlass-fp4 (error), not again under moe-backend (issue 8)")},
    "023": {"nccl-gid-index": (True, "NCCL_IB_GID_INDEX=3 pinned, judged for the default stack whose NCCL (2.27.7+) "
                                     "picks the RoCEv2 GID itself: a pinned index breaks when the GID table reorders "
                                     "(warning; issue 8, CONTRACTS.md 'The interconnect environment')")},
    "029": {"nccl-gid-index": (True, "NCCL_IB_GID_INDEX=3 pinned, judged for the default stack whose NCCL (2.27.7+) "
                                     "picks the RoCEv2 GID itself (warning; issue 8)")},
}


def launch_text(case: dict) -> str:
    """The launch as a shell script: environment first, placeholders filled from the defaults."""
    values = {**(case.get("script_defaults") or {}), **(case.get("recipe_defaults") or {})}
    command = re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), case["command"])
    env = case.get("recipe_env") or case.get("environment") or case.get("env") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    lines = [f"export {k}='{v}'" if "$" not in str(v) else f'export {k}="{v}"' for k, v in env.items()]
    return "\n".join(lines + [command]) + "\n"


def cases(shared):
    return sorted((shared / "commands").glob("*.json"))


def fired(case: dict) -> set[str]:
    spec = parse_text(launch_text(case))
    out = set()
    for f in lint_launch(spec):
        if f.rule == "gpu-memory-utilization" and f.severity != "error":
            continue
        out.add(f.rule)
    return out & MAPPED


def test_shared_commands(shared_data):
    paths = cases(shared_data)
    assert len(paths) >= 12
    report = []
    for path in paths:
        case = json.loads(path.read_text())
        got = fired(case)
        want = {LABELS[v] for v in case.get("seed_violations", []) if v in LABELS}
        optional = {LABELS[v] for v in case.get("optional_violations", []) if v in LABELS}
        for rule, (fires, _why) in DISAGREE.get(case["id"], {}).items():
            want.discard(rule)
            optional.discard(rule)
            if fires:
                want.add(rule)
        extra = got - want - optional
        missing = want - got
        if extra or missing:
            report.append(f"{case['id']}: extra {sorted(extra)} missing {sorted(missing)}")
    assert not report, "\n".join(report)


@pytest.mark.parametrize("cid", sorted(DISAGREE))
def test_disagreements_are_explained(shared_data, cid):
    case = json.loads((shared_data / "commands" / f"{cid}.json").read_text())
    got = fired(case)
    for rule, (fires, why) in DISAGREE[cid].items():
        assert why
        assert (rule in got) == fires
