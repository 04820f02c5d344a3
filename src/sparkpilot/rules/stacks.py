"""The stacks lint judges a launch for (knowledge/stacks.yaml)."""

from __future__ import annotations

import fnmatch
import functools
import re
from typing import Any

from sparkpilot import versions
from sparkpilot.errors import UsageError


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    from sparkpilot.knowledge import HERE
    from sparkpilot.rules.kb import read_yaml

    return read_yaml(str(HERE / "stacks.yaml"))


def all_stacks() -> list[dict[str, Any]]:
    return list(_data()["stacks"])


def default_name() -> str:
    return str(_data()["default"])


def get(name: str) -> dict[str, Any]:
    for s in all_stacks():
        if s["name"] == name:
            return dict(s)
    names = ", ".join(s["name"] for s in all_stacks())
    raise UsageError(f"unknown stack `{name}` (known: {names})")


def for_image(image: str | None) -> dict[str, Any] | None:
    """The stack whose image pattern matches, with the vLLM version from an upstream tag."""
    if not image:
        return None
    for s in all_stacks():
        if any(fnmatch.fnmatch(image, p) for p in s.get("image_patterns") or []):
            s = dict(s)
            if s["name"] == "ngc" and not s.get("vllm"):
                s.update(_ngc_from_index(image))
            if s.get("vllm_from_tag"):
                m = re.search(r":v?(\d+\.\d+(?:\.\d+)?)", image)
                if m:
                    s["vllm"] = m.group(1)
            s["matched_image"] = image
            return s
    return None


def resolve(name: str | None, image: str | None) -> tuple[dict[str, Any], str]:
    """(stack, why chosen)."""
    if name:
        return get(name), "--stack"
    by_image = for_image(image)
    if by_image:
        return by_image, f"image {image}"
    return get(default_name()), "default (the reference's stack)"


def flags_version(stack: dict[str, Any], available: list[str]) -> str | None:
    """The flag table to judge with: the stack's vLLM if generated, else the newest not newer, else newest."""
    if not available:
        return None
    want = stack.get("vllm")
    if not want:
        return sorted(available, key=versions.order)[-1]
    if want in available:
        return want
    older = [v for v in available if versions.order(v) <= versions.order(want)]
    return sorted(older, key=versions.order)[-1] if older else sorted(available, key=versions.order)[0]


def _ngc_from_index(image: str) -> dict[str, Any]:
    """vLLM of an NGC tag this table lacks, from the flag tables' index (nearest later release if absent)."""
    import json

    from sparkpilot.vllm.args import flags_dir

    m = re.search(r":(\d\d)\.(\d\d)", image)
    if not m:
        return {}
    try:
        ngc = json.loads((flags_dir() / "index.json").read_text()).get("ngc", {})
    except Exception:  # noqa: BLE001
        return {}
    tag = f"{m.group(1)}.{m.group(2)}"
    if tag in ngc:
        return {"vllm": ngc[tag]["vllm"], "summary": f"NGC vLLM {tag} (vLLM {ngc[tag]['vllm']}: {ngc[tag]['source']})"}
    later = sorted(t for t in ngc if t > tag)
    if later:
        v = ngc[later[0]]["vllm"]
        return {"vllm": v, "summary": f"NGC vLLM {tag}: version not published here; judged as {later[0]} (vLLM {v}), "
                                     "the nearest later release"}
    return {}


def applies(applies_to: dict[str, Any] | None, stack: dict[str, Any]) -> bool:
    """Whether a rule's applies_to (stacks: names/families or "all"; vllm: a range such as ">=0.17.1",
    or "any") covers this stack. An unknown vLLM version is covered."""
    if not applies_to:
        return True
    names = applies_to.get("stacks", "all")
    if names not in ("all", None) and stack.get("name") not in names and stack.get("family") not in names:
        return False
    rng = str(applies_to.get("vllm") or "any")
    version = stack.get("vllm")
    if rng == "any" or not version:
        return True
    return all(versions.satisfies(version, cond.strip()) for cond in rng.split(",") if cond.strip())


# NCCL_IB_GID_INDEX defaults to -1 from NCCL 2.21: NCCL picks the RoCEv2 GID by address family itself
# (knowledge/rules.yaml nccl-gid-index has the sources)
NCCL_AUTO_GID = (2, 21)
RAY_DROPPED = (0, 18)     # vLLM's own requirements stop installing Ray (vllm-project/vllm#33351)


def nccl_auto_gid(stack: dict[str, Any]) -> bool | None:
    """Whether the stack's NCCL selects the RoCEv2 GID itself (2.21 or newer); None: unknown."""
    v = stack.get("nccl")
    if not v:
        return None
    return versions.order(str(v))[:2] >= NCCL_AUTO_GID


def has_ray(stack: dict[str, Any]) -> bool | None:
    """Whether the stack's image has Ray (knowledge/stacks.yaml `ray`); None: unknown (detect it)."""
    if stack.get("ray_detected") is not None:
        return bool(stack["ray_detected"])
    if stack.get("ray") is not None:
        return bool(stack["ray"])
    if stack.get("ray_from_vllm") and stack.get("vllm"):
        return versions.order(str(stack["vllm"]))[:2] < RAY_DROPPED
    return None


def version_key(v: str | None) -> tuple[int, ...] | None:
    return versions.key(v)
