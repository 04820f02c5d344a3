"""Issue 8, "done when": every model of the catalog, planned on 1 and 2 Sparks (Ray and native) and on every
stack in knowledge/stacks.yaml, gives a launch that lint passes *and* that respects the rules, or a clear
refusal (one line, exit 1) when that stack has no valid launch. The catalog is read at run time, so models
added later are walked too."""

from __future__ import annotations

import json

import pytest

from sparkpilot import models
from sparkpilot.errors import SparkpilotError
from sparkpilot.words import Executor
from sparkpilot.models import moe
from sparkpilot.planner import PlanRequest, plan
from sparkpilot.planner.launch import NoValidLaunch
from sparkpilot.planner.stackcaps import for_stack
from sparkpilot.rules import stacks as stacks_mod
from sparkpilot.rules.lint import lint_launch

STACKS = [s["name"] for s in stacks_mod.all_stacks()]
SHAPES: list[tuple[int, Executor | None]] = [(1, None), (2, "ray"), (2, "native")]


def _serve_argv(node) -> list[str]:
    import shlex

    if node.argv[:2] == ["bash", "-c"]:
        words = shlex.split(node.argv[2].replace("$VLLM_HOST_IP", "x"))
        return words[words.index("vllm"):] if "vllm" in words else []
    return list(node.argv)


def _opt(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def _rule_breaks(info, p, caps, nodes: int) -> list[str]:
    """The issue's corrections, checked on the launch itself (not through lint)."""
    out = []
    head = p.launch.nodes[0]
    argv = _serve_argv(head)
    backend = _opt(argv, "--moe-backend")
    if info.is_moe and not moe.experts_quantized(info) and backend == "marlin":
        out.append("marlin on unquantised experts")
    if info.is_moe and moe.experts_quantized(info) and caps.has("--moe-backend") and backend != "marlin":
        out.append(f"quantised experts on {backend}")
    spec = _opt(argv, "--speculative-config")
    if spec and backend == "marlin" and not moe.drafter_quantized(info) \
            and json.loads(spec).get("moe_backend") != "triton":
        out.append("unquantised MTP drafter under marlin without its own backend")
    for word in argv:
        if word.startswith("--") and caps.flags is not None and word.split("=")[0] not in caps.flags:
            out.append(f"{word} is not a flag of vLLM {caps.flags_version}")
    mml = int(_opt(argv, "--max-model-len") or 0)
    if info.max_position_embeddings and mml > info.max_position_embeddings:
        out.append(f"--max-model-len {mml} above {info.max_position_embeddings} positions")
    for node in p.launch.nodes:
        run = node.docker_run or []
        if nodes > 1:
            for need in ("--device", "/dev/infiniband", "memlock=-1", "--ipc=host"):
                if need not in run:
                    out.append(f"{node.name}: multi-node docker run without {need}")
            pinned = "NCCL_IB_GID_INDEX" in node.env
            if caps.nccl_auto_gid is True and pinned:
                out.append(f"{node.name}: NCCL_IB_GID_INDEX pinned on NCCL {caps.nccl}")
            if caps.nccl_auto_gid is not True and not pinned:
                out.append(f"{node.name}: NCCL_IB_GID_INDEX missing on NCCL {caps.nccl}")
        if p.launch.executor == "ray" and caps.ray is not True and "import ray" not in " ".join(node.argv):
            out.append(f"{node.name}: ray start in an image that may lack Ray, with no install step")
    return out


def _walk(stack: str) -> tuple[list[str], list[str], int]:
    problems, refusals, launches = [], [], 0
    caps = for_stack(stack, None)
    image = stacks_mod.get(stack)["image"]
    for mid in models.catalog_ids():
        info = models.lookup(mid)
        assert info is not None, mid
        spec_tokens = [0, 2] if info.num_mtp_layers else [0]
        for nodes, executor in SHAPES:
            for tokens in spec_tokens:
                where = f"{mid} x{nodes} {executor or 'single'} mtp={tokens} on {stack}"
                try:
                    p = plan(PlanRequest(mid, nodes=nodes, executor=executor, stack=stack, image=image,
                                         vllm_version=caps.vllm, speculative_tokens=tokens), info)
                except NoValidLaunch as exc:
                    msg = str(exc)
                    assert exc.exit_code == 1 and "\n" not in msg and msg, where
                    refusals.append(f"{where}: {msg}")
                    continue
                except SparkpilotError as exc:
                    problems.append(f"{where}: unexpected {type(exc).__name__}: {exc}")
                    continue
                launches += 1
                assert p.launch is not None, where
                for f in lint_launch(p.launch, nodes=nodes, stack=stack, model_info=info):
                    if f.severity in ("error", "warning"):
                        problems.append(f"{where}: lint {f.severity} {f.rule}: {f.message}")
                problems += [f"{where}: {b}" for b in _rule_breaks(info, p, caps, nodes)]
    return problems, refusals, launches


@pytest.mark.parametrize("stack", STACKS)
def test_every_catalog_model_on_every_stack_starts_or_is_refused(stack):
    problems, refusals, launches = _walk(stack)
    assert problems == []
    assert launches > 0
    caps = for_stack(stack, None)
    for r in refusals:      # only what the stack's vLLM lacks is refused
        assert ("no --moe-backend" in r and not caps.has("--moe-backend")) or \
            ("native multi-node mode" in r and not caps.has("--nnodes")) or \
            ("moe_backend" in r and not caps.at_least((0, 19))), r


def test_the_old_stacks_refuse_what_they_cannot_run():
    _, refusals, _ = _walk("ngc-25.10")
    assert any("native multi-node mode" in r for r in refusals)
