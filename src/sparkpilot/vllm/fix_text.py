"""The text of a launch with edits applied: the vLLM words, an env prefix, a docker run's `-e`,
a whole command or script (fix.py dispatches; fix_yaml.py writes YAML forms with these pieces).
"""

from __future__ import annotations

import re
from typing import Any

from sparkpilot.errors import UsageError
from sparkpilot.vllm.launchspec import LaunchSpec
from sparkpilot.vllm.shell import ASSIGN, Word, render


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


def env_edits(edits: list[Any]) -> dict[str, str]:
    return {e.name: e.value for e in edits if e.op == "set_env"}


# ----------------------------------------------------------------------------- commands and scripts


def _prefix(spec: LaunchSpec, env_updates: dict[str, str]) -> list[str]:
    out = []
    done = set()
    for w in spec.origin.get("prefix") or []:
        m = ASSIGN.match(w.text)
        name = m.group(1) if m else None
        if name is not None and name in env_updates:
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
            m_next, m_inline = ASSIGN.match(nxt), ASSIGN.match(t[len(opt) + 1:])
            if t == opt and m_next and m_next.group(1) in remaining:
                name = m_next.group(1)
                part[i + 1] = f"{name}={remaining.pop(name)}"
            elif t.startswith(opt + "=") and m_inline:
                name = m_inline.group(1)
                if name in remaining:
                    part[i] = f"{opt}={name}={remaining.pop(name)}"
        i += 1
    new_env: list[str] = []
    for k, v in remaining.items():
        new_env += ["-e", f"{k}={v}"]
    return part[: d["run_at"]] + new_env + part[d["run_at"]:]


def render_command(spec: LaunchSpec, edits: list[Any], per_line: bool = True) -> str:
    env_updates = env_edits(edits)
    o = spec.origin
    if o.get("cluster_only"):   # run_cluster.sh ... -e VAR=x: the containers' environment, no vLLM command
        words = [tokens_text(w) for w in o["words"]]
        for i, t in enumerate(words[:-1]):
            m = ASSIGN.match(words[i + 1]) if t in ("-e", "--env") else None
            if m and m.group(1) in env_updates:
                words[i + 1] = f"{m.group(1)}={env_updates.pop(m.group(1))}"
        for k, v in env_updates.items():
            words += ["-e", f"{k}={v}"]
        return render(words, per_line=per_line)
    if o.get("docker"):
        if "inner" in o:   # docker run IMAGE bash -c "script"
            inner_spec = LaunchSpec(**{**spec.__dict__, "origin": o["inner"], "source_kind": "script"})
            new_inner = script(inner_spec, [e for e in edits if e.op != "set_env"])
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


def command(spec: LaunchSpec, edits: list[Any]) -> str:
    return render_command(spec, edits) + "\n"


def script(spec: LaunchSpec, edits: list[Any]) -> str:
    o = spec.origin
    text = o["text"]
    cmd = o.get("command")
    if cmd is None or not cmd.words:
        raise UsageError("cannot rewrite this launch in place")
    start, end = cmd.words[0].start, cmd.words[-1].end
    line_start = text.rfind("\n", 0, start) + 1
    blank = text[line_start:start]
    indent = blank[:len(blank) - len(blank.lstrip(" \t"))] if blank.strip() == "" else ""
    new = render_command(spec, edits).replace("\n", "\n" + indent)
    return text[:start] + new + text[end:]


