"""What the stack a plan is made for can run: its vLLM's flags, its NCCL, whether its image has Ray.

Read from knowledge/stacks.yaml (with each value's source) and the generated flag tables, so a plan
never writes a flag the stack's vLLM rejects (issue 8, point 6) nor pins NCCL_IB_GID_INDEX where the
stack's NCCL picks the GID itself (point 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparkpilot.rules import stacks as stacks_mod

# vLLM versions that first have a setting, each with its source (knowledge/rules.yaml has them too)
SPEC_MOE_BACKEND = (0, 19)   # SpeculativeConfig.moe_backend: vllm-project/vllm#37880 (merged 2026-03-23)
# the Triton attention backend's name before vLLM 0.11 (VLLM_ATTENTION_BACKEND value): the _Backend enum
# of vllm/attention/backends/registry.py in 0.10.x has TRITON_ATTN_VLLM_V1; 0.11 dropped the suffix
TRITON_ATTN_V1_BEFORE = (0, 11)


@dataclass
class StackCaps:
    name: str
    vllm: str | None                      # None: not published (the newest flag table is assumed)
    flags: frozenset[str] | None          # the flags of the stack's flag table (None: no table)
    flags_version: str | None
    nccl: str | None
    nccl_auto_gid: bool | None            # NCCL >= 2.21 picks the RoCEv2 GID itself (None: unknown)
    ray: bool | None                      # the image has Ray (None: unknown)
    ray_why: str = ""
    stack: dict[str, Any] | None = None

    def has(self, flag: str) -> bool:
        return True if self.flags is None else flag in self.flags

    def at_least(self, version: tuple[int, int]) -> bool:
        key = stacks_mod.version_key(self.vllm)
        return True if key is None else key[:2] >= version

    @property
    def triton_attn_env_value(self) -> str:
        return "TRITON_ATTN" if self.at_least(TRITON_ATTN_V1_BEFORE) else "TRITON_ATTN_VLLM_V1"


def for_stack(name: str | None, image: str | None, ray_detected: bool | None = None) -> StackCaps:
    """The capabilities of a stack by name (--stack), else by image, else the default stack."""
    from sparkpilot.vllm import args as vargs

    st, _why = stacks_mod.resolve(name, image)
    if ray_detected is not None:
        st = {**st, "ray_detected": ray_detected}
    version = stacks_mod.flags_version(st, vargs.table_versions())
    table = vargs.table(version) if version else None
    ray = stacks_mod.has_ray(st)
    if ray_detected is not None:
        why = f"detected in {image}: `import ray` {'works' if ray_detected else 'fails'}"
    else:
        why = str(st.get("ray_source") or "")
    return StackCaps(name=str(st["name"]), vllm=st.get("vllm"), flags=frozenset(table) if table else None,
                     flags_version=version, nccl=st.get("nccl"), nccl_auto_gid=stacks_mod.nccl_auto_gid(st),
                     ray=ray, ray_why=why, stack=st)
