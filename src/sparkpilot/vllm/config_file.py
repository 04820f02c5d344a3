"""vLLM's own YAML config file (`vllm serve --config FILE`): keys are option names, values their values.

Two uses: options a launch loads with `--config FILE` (the command line wins over the file, as in
vLLM), and a config file given to lint directly (`sparkpilot lint -f serve-config.yaml`).
"""

from __future__ import annotations

import os
from typing import Any

from sparkpilot.vllm import args as vargs
from sparkpilot.vllm.argv import Parsers
from sparkpilot.vllm.launchspec import FlagUse, LaunchSpec


def looks_like_config(doc: dict[str, Any]) -> bool:
    """Most keys are vLLM option names."""
    if not doc:
        return False
    table = vargs.table() or {}
    keys = [str(k) for k in doc]
    known = sum(1 for k in keys if "--" + k.replace("_", "-") in table or k == "model")
    return known >= max(1, (len(keys) + 1) // 2)


def to_argv(doc: dict[str, Any]) -> list[str]:
    argv = ["vllm", "serve"]
    if doc.get("model") is not None:
        argv.append(str(doc["model"]))
    for key, value in doc.items():
        if key == "model":
            continue
        flag = "--" + str(key).replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False:
            argv.append("--no-" + flag[2:])
        elif isinstance(value, (dict, list)):
            import json

            argv += [flag, json.dumps(value)]
        elif value is not None:
            argv += [flag, str(value)]
    return argv


def _line_of(text: str, key: str) -> int | None:
    for i, line in enumerate(text.splitlines(), 1):
        if line.split(":", 1)[0].strip() in (key, key.replace("_", "-"), key.replace("-", "_")):
            return i
    return None


def parse_config_file(doc: dict[str, Any], text: str, filename: str | None, version: str | None,
                      parsers: Parsers) -> LaunchSpec:
    spec = parsers.argv(to_argv(doc), version=version)
    for use in spec.flag_uses:
        line = _line_of(text, use.flag[2:]) or _line_of(text, use.dest)
        use.location = f"{filename or '<stdin>'}:{line}" if line else filename
    spec.locations = {u.dest: u.location for u in spec.flag_uses if u.location}
    spec.source_kind = "vllm-config"
    spec.origin["config_doc"] = doc
    spec.origin["file_text"] = text
    spec.notes.append("a vLLM config file: environment variables and the image are not in it; pass them with "
                      "the launch (e.g. lint the command that uses --config)")
    return spec


def merge_config_option(spec: LaunchSpec, filename: str | None, parsers: Parsers) -> None:
    """Options from `--config FILE` (when the file can be read) join the spec; the command line wins."""
    path = spec.options.get("config")
    if not isinstance(path, str) or "$" in path or "{" in path:
        return
    candidates = [path] if os.path.isabs(path) else [os.path.join(os.path.dirname(filename or ""), path), path]
    for cand in candidates:
        if os.path.isfile(cand):
            break
    else:
        spec.notes.append(f"--config {path}: file not found here, its options were not checked")
        return
    try:
        import yaml

        with open(cand, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except Exception:  # noqa: BLE001 - any unreadable config is a note, not a crash
        spec.notes.append(f"--config {path}: not a readable YAML file, its options were not checked")
        return
    if not isinstance(doc, dict):
        return
    sub = parsers.argv(to_argv(doc))
    text = open(cand, encoding="utf-8").read()
    for use in sub.flag_uses:
        if use.dest in spec.options:
            continue
        line = _line_of(text, use.flag[2:]) or _line_of(text, use.dest)
        spec.options[use.dest] = use.value
        spec.flag_uses.append(FlagUse(written=use.written, flag=use.flag, dest=use.dest, value=use.value,
                                      index=-1, location=f"{cand}:{line}" if line else cand))
        spec.locations.setdefault(use.dest, f"{cand}:{line}" if line else cand)
    if spec.model is None and sub.model:
        spec.model = sub.model
