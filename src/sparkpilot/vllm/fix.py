"""Write a launch back in the form it came in, with edits applied (`sparkpilot lint --fix`).

Edits are ("set_flag", flag, value|None), ("remove_flag", flag) and ("set_env", VAR, value) (see
sparkpilot.rules.finding.Edit). A command or script is changed in place (only the vLLM command's
text is rewritten); a docker run gets `-e VAR=value`; a recipe keeps its `{placeholders}` and gets
new defaults and `env:` entries (its comments kept); compose and Kubernetes files are re-written
from their YAML (comments are lost there).
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from sparkpilot.errors import UsageError
from sparkpilot.vllm.launchspec import LaunchSpec
from sparkpilot.vllm.shell import ASSIGN, Word, quote, render


def apply(spec: LaunchSpec, edits: Iterable[Any]) -> str:
    edits = _dedupe(edits)
    kind = spec.source_kind
    origin = spec.origin or {}
    if kind == "recipe":
        return _recipe(spec, edits)
    if kind == "compose":
        return _compose(spec, edits)
    if kind == "k8s":
        return _k8s(spec, edits)
    if kind == "vllm-config":
        return _config(spec, edits)
    if "text" in origin or "inner" in origin:
        return _script(spec, edits) if "text" in origin else _command(spec, edits)
    return _command(spec, edits)


def _dedupe(edits: Iterable[Any]) -> list[Any]:
    seen: dict[tuple[str, str], Any] = {}
    for e in edits:
        seen[(e.op if e.op != "remove_flag" else "set_flag", e.name)] = e
    return list(seen.values())


# ----------------------------------------------------------------------------- the vLLM words


def _vllm_words(spec: LaunchSpec) -> tuple[list[Word], int]:
    """The words of the vLLM program (argv[0] = its first word) and their offset in origin words."""
    o = spec.origin
    if o.get("docker") and "vllm_words" in o:
        words = o["vllm_words"]
        start = o.get("vllm_start") or 0
        return words[start:], start
    words = o["words"]
    start = o.get("vllm_start") or 0
    return words[start:], start


def edit_vllm(spec: LaunchSpec, edits: list[Any], placeholders: dict[str, Any] | None = None) -> list[str]:
    """New vLLM words (as written, $VAR / {placeholder} kept) after the flag edits."""
    words, _ = _vllm_words(spec)
    tokens: list[list[str]] = [[w.orig if w.orig is not None else w.text] for w in words]
    entry_args = bool(spec.origin.get("entry_args")) and spec.origin.get("docker")
    offset = -1 if entry_args else 0   # entry_args: spec.argv has "vllm serve" where the words have "<entrypoint>"
    appended: list[str] = []
    for e in edits:
        if e.op not in ("set_flag", "remove_flag"):
            continue
        uses = [u for u in spec.flag_uses if (u.flag == e.name or ("--no-" + e.name[2:]) == u.flag) and u.index >= 0]
        if e.op == "remove_flag":
            for u in uses:
                i = u.index + offset
                tokens[i] = []
                if isinstance(u.value, str) and "=" not in tokens_text(words[i]) and u.written != "-O":
                    tokens[i + 1] = []
            continue
        if not uses:
            appended += [e.name] + ([e.value] if e.value is not None else [])
            continue
        u = uses[-1]
        i = u.index + offset
        written = tokens_text(words[i])
        if e.value is None:
            tokens[i] = [e.name]
            continue
        if "=" in written and written.startswith("--"):
            tokens[i] = [f"{written.split('=', 1)[0]}={e.value}"]
        elif isinstance(u.value, str) and i + 1 < len(tokens):
            template = words[i + 1].orig if words[i + 1].orig is not None else words[i + 1].text
            m = re.fullmatch(r"\{(\w+)\}", template or "")
            if m and placeholders is not None:
                placeholders[m.group(1)] = e.value
            else:
                tokens[i + 1] = [e.value]
        else:
            tokens[i] = [tokens[i][0], e.value] if tokens[i] else [e.name, e.value]
    flat = [t for group in tokens for t in group]
    if entry_args and flat and flat[0] in ("<entrypoint>", ""):
        flat = flat[1:]
    return [t for t in flat if t is not None] + appended


def tokens_text(w: Word) -> str:
    return w.orig if w.orig is not None else w.text


def _env_edits(edits: list[Any]) -> dict[str, str]:
    return {e.name: e.value for e in edits if e.op == "set_env"}


# ----------------------------------------------------------------------------- commands and scripts


def _prefix(spec: LaunchSpec, env_updates: dict[str, str]) -> list[str]:
    out = []
    done = set()
    for w in spec.origin.get("prefix") or []:
        m = ASSIGN.match(w.text)
        name = m.group(1)
        if name in env_updates:
            out.append(f"{name}={env_updates[name]}")
            done.add(name)
        else:
            out.append(tokens_text(w))
    return out + [f"{k}={v}" for k, v in env_updates.items() if k not in done]


def _docker_part(spec: LaunchSpec, env_updates: dict[str, str]) -> list[str]:
    o = spec.origin
    words = o["words"]
    d = o["docker"]
    part = [tokens_text(w) for w in words[: d["image_at"] + 1]]
    remaining = dict(env_updates)
    i = d["run_at"]
    while i < d["image_at"]:
        t = part[i]
        nxt = part[i + 1] if i + 1 < len(part) else ""
        for opt in ("-e", "--env"):
            if t == opt and ASSIGN.match(nxt) and ASSIGN.match(nxt).group(1) in remaining:
                name = ASSIGN.match(nxt).group(1)
                part[i + 1] = f"{name}={remaining.pop(name)}"
            elif t.startswith(opt + "=") and ASSIGN.match(t[len(opt) + 1:]):
                name = ASSIGN.match(t[len(opt) + 1:]).group(1)
                if name in remaining:
                    part[i] = f"{opt}={name}={remaining.pop(name)}"
        i += 1
    new_env: list[str] = []
    for k, v in remaining.items():
        new_env += ["-e", f"{k}={v}"]
    return part[: d["run_at"]] + new_env + part[d["run_at"]:]


def _render_command(spec: LaunchSpec, edits: list[Any], per_line: bool = True) -> str:
    env_updates = _env_edits(edits)
    o = spec.origin
    if o.get("docker"):
        if "inner" in o:   # docker run IMAGE bash -c "script"
            inner_spec = LaunchSpec(**{**spec.__dict__, "origin": o["inner"], "source_kind": "script"})
            new_inner = _script(inner_spec, [e for e in edits if e.op != "set_env"])
            docker = _docker_part(spec, env_updates)
            rest = [tokens_text(w) for w in o["words"][o["docker"]["image_at"] + 1:]]
            shell_at = next(i for i, t in enumerate(rest) if t.rsplit("/", 1)[-1] in ("bash", "sh"))
            argv = _prefix(spec, {}) + docker + rest[: shell_at + 2] + [new_inner] + rest[shell_at + 3:]
            return render(argv, per_line=per_line)
        docker = _docker_part(spec, env_updates)
        vllm = edit_vllm(spec, edits)
        if o.get("entrypoint_word") and (o.get("vllm_start") or 0) == 0:
            vllm = vllm[1:]   # the program is docker's --entrypoint
        return render(_prefix(spec, {}) + docker + _between(spec) + vllm, per_line=per_line)
    return render(_prefix(spec, env_updates) + _before_vllm(spec) + edit_vllm(spec, edits), per_line=per_line)


def _before_vllm(spec: LaunchSpec) -> list[str]:
    """Words between the env prefix and the vLLM program (e.g. `exec`, `./launch-cluster.sh ... exec`)."""
    words = spec.origin["words"]
    start = spec.origin.get("vllm_start") or 0
    return [tokens_text(w) for w in words[:start]]


def _between(spec: LaunchSpec) -> list[str]:
    """docker run: words after the image and before the vLLM program."""
    o = spec.origin
    start = o.get("vllm_start") or 0
    words = o.get("vllm_words") or []
    skip = 1 if o.get("entry_args") or o.get("entrypoint_word") else 0
    return [tokens_text(w) for w in words[skip:start]] if start > skip else []


def _command(spec: LaunchSpec, edits: list[Any]) -> str:
    return _render_command(spec, edits) + "\n"


def _script(spec: LaunchSpec, edits: list[Any]) -> str:
    o = spec.origin
    text = o["text"]
    cmd = o.get("command")
    if cmd is None or not cmd.words:
        raise UsageError("cannot rewrite this launch in place")
    start, end = cmd.words[0].start, cmd.words[-1].end
    line_start = text.rfind("\n", 0, start) + 1
    indent = re.match(r"[ \t]*", text[line_start:start]).group(0) if text[line_start:start].strip() == "" else ""
    new = _render_command(spec, edits).replace("\n", "\n" + indent)
    return text[:start] + new + text[end:]


# ----------------------------------------------------------------------------- YAML kinds


def _yaml_dump(data: Any) -> str:
    import yaml  # noqa: PLC0415

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
        return _script(spec, flag_edits)
    o = spec.origin
    text, cmd = o["text"], o["command"]
    new = _render_command(spec, flag_edits, per_line=False)
    return text[:cmd.words[0].start] + new + text[cmd.words[-1].end:]


def _compose(spec: LaunchSpec, edits: list[Any]) -> str:
    import copy  # noqa: PLC0415
    import shlex  # noqa: PLC0415

    o = spec.origin
    doc = copy.deepcopy(o["doc"])
    svc = doc["services"][o["service"]]
    cmd, entry = svc.get("command"), svc.get("entrypoint")
    shell = isinstance(entry, list) and entry and str(entry[0]).rsplit("/", 1)[-1] in ("bash", "sh")
    if shell and isinstance(cmd, list) and len(cmd) == 1 and len(entry) == 2:
        svc["command"] = [_shell_text(spec, edits, True)]
    elif isinstance(cmd, list) and len(cmd) >= 3 and str(cmd[0]).rsplit("/", 1)[-1] in ("bash", "sh"):
        svc["command"] = list(cmd[:2]) + [_shell_text(spec, edits, True)] + list(cmd[3:])
    elif isinstance(cmd, str):
        svc["command"] = _shell_text(spec, edits, per_line=bool(shell))
    else:
        new = _shell_text(spec, edits, per_line=False)
        words = shlex.split(new)
        if o.get("entry_args") and words[:2] == ["vllm", "serve"]:
            words = words[2:]
        svc["command"] = words
    _set_env_yaml(svc, "environment", _env_edits(edits))
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
    import copy  # noqa: PLC0415
    import shlex  # noqa: PLC0415

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
    _set_env_yaml(c, "env", _env_edits(edits), k8s=True)
    import yaml  # noqa: PLC0415

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
    env_updates = _env_edits(edits)
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


__all__ = ["apply", "edit_vllm", "quote"]


_SECRET_ASSIGN = re.compile(
    r"\b((?:HF_TOKEN|HUGGING_FACE_HUB_TOKEN|HUGGINGFACE_TOKEN|NGC_API_KEY|[A-Z0-9_]*(?:TOKEN|API_KEY|SECRET|PASSWORD)"
    r"[A-Z0-9_]*)\s*[=:]\s*[\"']?)([^\s\"'$<{][^\s\"']*)")
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")


def mask_secrets(text: str) -> str:
    """Hide secret values (HF tokens, API keys); `$VAR` / `${VAR}` references stay readable."""
    text = _SECRET_ASSIGN.sub(lambda m: m.group(1) + "***", text)
    return _HF_TOKEN.sub("hf_***", text)
