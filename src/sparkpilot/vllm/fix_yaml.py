"""--fix writers for launches written as YAML: docker compose, Kubernetes, recipes, vLLM config files."""

from __future__ import annotations

import re
from typing import Any

from sparkpilot.vllm.fix_text import edit_vllm, env_edits, render_command, script, tokens_text
from sparkpilot.vllm.launchspec import LaunchSpec
from sparkpilot.vllm.shell import quote, render

def _yaml_dump(data: Any) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def str_rep(dumper, value):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, str_rep)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=100)


def _shell_text(spec: LaunchSpec, edits: list[Any], per_line: bool) -> str:
    """The rewritten command string of a YAML launch (its env edits are handled by the caller)."""
    flag_edits = [e for e in edits if e.op != "set_env"]
    if per_line:
        return script(spec, flag_edits)
    o = spec.origin
    text, cmd = o["text"], o["command"]
    new = render_command(spec, flag_edits, per_line=False)
    return text[:cmd.words[0].start] + new + text[cmd.words[-1].end:]


def _compose(spec: LaunchSpec, edits: list[Any]) -> str:
    import copy
    import shlex

    o = spec.origin
    doc = copy.deepcopy(o["doc"])
    svc = doc["services"][o["service"]]
    cmd, entry = svc.get("command"), svc.get("entrypoint")
    shell = isinstance(entry, list) and entry and str(entry[0]).rsplit("/", 1)[-1] in ("bash", "sh")
    if shell and isinstance(cmd, list) and len(cmd) == 1 and len(entry) == 2:
        svc["command"] = [_shell_text(spec, edits, True)]
    elif isinstance(cmd, list) and len(cmd) >= 3 and str(cmd[0]).rsplit("/", 1)[-1] in ("bash", "sh"):
        svc["command"] = list(cmd[:2]) + [_shell_text(spec, edits, True)] + list(cmd[3:])
    elif isinstance(cmd, str) and (shell or not entry):
        svc["command"] = _shell_text(spec, edits, per_line=bool(shell)) if not o.get("entry_vllm") \
            else " ".join(quote(w) for w in shlex.split(_shell_text(spec, edits, per_line=False))[1:])
    else:
        new = _shell_text(spec, edits, per_line=False)
        words = shlex.split(new)
        if o.get("entry_args") and words[:2] == ["vllm", "serve"]:
            words = words[2:]
        elif o.get("entry_vllm") and words[:1] == ["vllm"]:
            words = words[1:]      # the image's entrypoint is `vllm`; the command starts at `serve`
        lead = [str(x) for x in entry] if isinstance(entry, list) else \
            shlex.split(entry) if isinstance(entry, str) else []
        if lead and words[:len(lead)] == lead:
            words = words[len(lead):]   # `entrypoint: ["vllm"]` stays; the command keeps only its own words
        svc["command"] = words if not isinstance(cmd, str) else " ".join(quote(w) for w in words)
    _set_env_yaml(svc, "environment", env_edits(edits))
    return _yaml_dump(doc)


def _set_env_yaml(holder: dict, key: str, updates: dict[str, str], k8s: bool = False) -> None:
    if not updates:
        return
    env = holder.get(key)
    if env is None:
        env = [] if k8s else {}
        holder[key] = env
    if isinstance(env, dict):
        for k, v in updates.items():
            env[k] = v
        return
    for k, v in updates.items():
        for i, item in enumerate(env):
            if k8s and isinstance(item, dict) and item.get("name") == k:
                env[i] = {"name": k, "value": v}
                break
            if isinstance(item, str) and item.split("=", 1)[0] == k:
                env[i] = f"{k}={v}"
                break
        else:
            env.append({"name": k, "value": v} if k8s else f"{k}={v}")


def _k8s(spec: LaunchSpec, edits: list[Any]) -> str:
    import copy
    import shlex

    o = spec.origin
    docs = copy.deepcopy(o["docs"])
    node: Any = docs[o["doc_index"]]
    for k in o["path"]:
        node = node[k]
    c = node
    command = [str(x) for x in c.get("command") or []]
    args = [str(x) for x in c.get("args") or []]
    full = command + args
    if len(full) >= 3 and full[0].rsplit("/", 1)[-1] in ("bash", "sh") and full[1] in ("-c", "-lc", "-ec"):
        script = _shell_text(spec, edits, per_line=True)
        if len(command) >= 3:
            c["command"] = command[:2] + [script] + command[3:]
        elif len(command) == 2:
            c["args"] = [script] + args[1:]
        else:
            c["args"] = args[:2] + [script] + args[3:]
    else:
        words = shlex.split(_shell_text(spec, edits, per_line=False))
        if o.get("entry_args") and words[:2] == ["vllm", "serve"]:
            words = words[2:]
        n = len(command)
        if command and words[:n] == command:
            c["args"] = words[n:]
        elif o.get("entry_args"):
            c["args"] = words
        else:
            c["command"] = words
            c.pop("args", None)
    _set_env_yaml(c, "env", env_edits(edits), k8s=True)
    import yaml

    return yaml.safe_dump_all(docs, sort_keys=False) if len(docs) > 1 else _yaml_dump(docs[0])


def _config(spec: LaunchSpec, edits: list[Any]) -> str:
    """A vLLM config file: option keys set or removed (environment edits cannot live there)."""
    doc = dict(spec.origin["config_doc"])
    for e in edits:
        if e.op == "set_env":
            continue
        name = e.name[2:]
        keys = [k for k in doc if str(k).replace("_", "-") == name]
        if e.op == "remove_flag":
            for k in keys:
                doc.pop(k)
            continue
        doc[keys[0] if keys else name] = True if e.value is None else _scalar(e.value)
    return _yaml_dump(doc)


def _scalar(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _recipe(spec: LaunchSpec, edits: list[Any]) -> str:
    """Text edits on the recipe file: the command block, `defaults:` values and `env:` entries."""
    o = spec.origin
    text: str = o["file_text"]
    doc = o["doc"]
    placeholders: dict[str, Any] = {}
    env_updates = env_edits(edits)
    flag_edits = [e for e in edits if e.op != "set_env"]
    # rewrite the command with its template words (placeholders kept)
    new_vllm = edit_vllm(spec, flag_edits, placeholders)
    cmd_text = doc["command"]
    cmd = o["command"]
    before = [tokens_text(w) for w in o["words"][: o.get("vllm_start") or 0]]
    prefix = [tokens_text(w) for w in o.get("prefix") or []]
    new_cmd = cmd_text[:cmd.words[0].start] + render(prefix + before + new_vllm) + cmd_text[cmd.words[-1].end:]
    if not new_cmd.endswith("\n"):
        new_cmd += "\n"
    lines = text.split("\n")
    lines = _replace_block(lines, "command", ["  " + ln if ln else ln for ln in new_cmd.rstrip("\n").split("\n")],
                           header="command: |")
    for key, value in placeholders.items():
        lines = _set_mapping_entry(lines, "defaults", key, value)
    for var, value in env_updates.items():
        lines = _set_mapping_entry(lines, "env", var, value, quote_value=True)
    return "\n".join(lines)


def _block_span(lines: list[str], key: str) -> tuple[int, int] | None:
    for i, ln in enumerate(lines):
        if re.match(rf"^{re.escape(key)}\s*:", ln):
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or lines[j].startswith((" ", "\t"))):
                j += 1
            while j > i + 1 and not lines[j - 1].strip():
                j -= 1
            return i, j
    return None


def _replace_block(lines: list[str], key: str, body: list[str], header: str) -> list[str]:
    span = _block_span(lines, key)
    if span is None:
        return lines + [header] + body
    i, j = span
    return lines[:i] + [header] + body + lines[j:]


def _set_mapping_entry(lines: list[str], block: str, key: str, value: Any, quote_value: bool = False) -> list[str]:
    val = f'"{value}"' if quote_value else str(value)
    span = _block_span(lines, block)
    if span is None:
        at = next((i for i, ln in enumerate(lines) if ln.startswith("command:")), len(lines))
        return lines[:at] + [f"{block}:", f"  {key}: {val}", ""] + lines[at:]
    i, j = span
    if re.match(rf"^{re.escape(block)}\s*:\s*\{{\s*\}}\s*$", lines[i]):
        lines[i] = f"{block}:"
    for k in range(i + 1, j):
        m = re.match(rf"^(\s+){re.escape(key)}\s*:", lines[k])
        if m:
            lines[k] = f"{m.group(1)}{key}: {val}"
            return lines
    return lines[:j] + [f"  {key}: {val}"] + lines[j:]




WRITERS = {"recipe": _recipe, "compose": _compose, "k8s": _k8s, "vllm-config": _config}
