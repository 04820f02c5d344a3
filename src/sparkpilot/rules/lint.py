"""lint_launch(spec, *, nodes, stack, model_info) -> [Finding]: judge a LaunchSpec against the SM121 rules."""

from __future__ import annotations

from typing import Any

from sparkpilot.errors import UsageError
from sparkpilot.rules import stacks as stacks_mod
from sparkpilot.rules.context import LintContext
from sparkpilot.rules.finding import Finding
from sparkpilot.rules.modelfacts import facts_for
from sparkpilot.vllm.launchspec import LaunchSpec

ORDER = {"error": 0, "warning": 1, "info": 2}


def infer_nodes(spec: LaunchSpec) -> tuple[int, str]:
    """How many Sparks the launch runs on, and how we know (CONTRACTS.md "Executors")."""
    world = spec.tensor_parallel * spec.pipeline_parallel
    if spec.node_count:
        return spec.node_count, "; ".join(spec.multi_node_hints) or "stated by the launch"
    if spec.executor in ("ray", "native") and world > 1:
        return world, "; ".join(dict.fromkeys(spec.multi_node_hints)) or spec.executor
    if spec.source_kind in ("command", "script", "vllm-config") and world > 1 and not spec.origin_is_local():
        return world, f"TP x PP = {world} on one-GPU Sparks: assumed a Ray cluster of {world} (pass --nodes to say otherwise)"
    return 1, "a single container / no cluster in the launch" if world > 1 else "single node"


def build_context(spec: LaunchSpec, *, nodes: int | None = None, stack: str | None = None,
                  model_info: Any = None) -> LintContext:
    from sparkpilot.rules.kb import rules as rule_entries
    from sparkpilot.vllm import args as vargs

    if nodes is not None and nodes < 1:
        raise UsageError("--nodes must be at least 1")
    n, why = (nodes, "--nodes") if nodes else infer_nodes(spec)
    st, st_why = stacks_mod.resolve(stack, spec.image)
    version = stacks_mod.flags_version(st, vargs.table_versions())
    overrides: dict[str, Any] = {}
    info = None
    if isinstance(model_info, dict):
        overrides = model_info
    elif model_info is not None:
        info = model_info
    quant_flag = spec.options.get("quantization")
    facts = facts_for(spec.model, overrides=overrides, quantization_flag=quant_flag if isinstance(quant_flag, str) else None,
                      model_info=info)
    meta = {str(e["name"]): e for e in rule_entries()}
    return LintContext(spec=spec, nodes=n, nodes_why=why, stack=st, stack_why=st_why, model=facts,
                       flags_version=version, table=vargs.table(version) if version else None, meta=meta,
                       nodes_assumed=not nodes and why.startswith("TP x PP"))


def lint_launch(spec: LaunchSpec, *, nodes: int | None = None, stack: str | None = None, model_info: Any = None,
                select: list[str] | None = None, ignore: list[str] | None = None,
                context: LintContext | None = None) -> list[Finding]:
    """Findings for one launch, errors first. model_info: a ModelInfo, or a dict such as
    {"moe": True, "quant": "nvfp4", "gpt_oss": False} (what `--model-info` gives)."""
    from sparkpilot.rules.registry import CLUSTER_ENV_RULES, RULES

    ctx = context or build_context(spec, nodes=nodes, stack=stack, model_info=model_info)
    env_only = bool(spec.origin and spec.origin.get("cluster_only"))
    chosen = {s.lower() for s in select or []}
    skipped = {s.lower() for s in ignore or []}
    findings: list[Finding] = []
    for rid, name, check in RULES:
        keys = {rid.lower(), name}
        if chosen and not keys & chosen:
            continue
        if keys & skipped or (env_only and name not in CLUSTER_ENV_RULES):
            continue
        if not stacks_mod.applies(ctx.meta.get(name, {}).get("applies_to"), ctx.stack):
            continue
        findings.extend(check(ctx))
    findings.sort(key=lambda f: (ORDER.get(f.severity, 3), f.id))
    return findings


def summary(findings: list[Finding], ctx: LintContext) -> dict[str, Any]:
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ORDER}
    return {
        **counts, "total": len(findings),
        "launch": {"kind": ctx.spec.source_kind, "model": ctx.spec.model, "image": ctx.spec.image,
                   "executor": ctx.executor, "nodes": ctx.nodes, "nodes_from": ctx.nodes_why},
        "stack": {"name": ctx.stack["name"], "chosen_by": ctx.stack_why, "vllm": ctx.stack.get("vllm"),
                  "flags_checked_against": ctx.flags_version},
        "model": {"moe": ctx.model.is_moe, "gpt_oss": ctx.model.is_gpt_oss, "quant": ctx.model.quant,
                  "sources": ctx.model.sources},
        "notes": list(ctx.spec.notes) + _launcher_note(ctx),
    }


def _launcher_note(ctx: LintContext) -> list[str]:
    from sparkpilot.rules.cluster import LAUNCHERS

    if ctx.multi_node and ctx.spec.launcher in LAUNCHERS:
        return [f"launched by {ctx.spec.launcher}: {LAUNCHERS[ctx.spec.launcher]}"]
    return []
