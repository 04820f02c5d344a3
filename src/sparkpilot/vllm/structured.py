"""Launches written as YAML/JSON: docker compose files, Kubernetes manifests and recipes.

Recipes: eugr/spark-vllm-docker (`recipe_version`, `container`, `cluster_only`/`solo_only`, `env`,
`defaults`, `command` with `{placeholder}`s) and sparkrun (`runtime: vllm`, `min_nodes`/`max_nodes`,
`container`, `defaults`, `env`, `command`). Placeholders take `defaults`, then the top-level keys
(`{model}`).
"""

from __future__ import annotations

from typing import Any

from sparkpilot.errors import UsageError
from sparkpilot.vllm.launchspec import LaunchSpec
from sparkpilot.vllm.argv import Parsers, find_vllm_args, parse_vllm_args, substitute


def load_yaml_docs(text: str, filename: str | None) -> list[Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UsageError(f"{filename or 'input'}: not valid YAML{where}") from None


def parse_structured(text: str, filename: str | None, *, version: str | None = None,
                     parsers: Parsers) -> LaunchSpec:
    """A compose file, Kubernetes manifest, recipe or vLLM config file; their commands are parsed
    with `parsers` (parse.py's, handed down)."""
    try:
        return _parse_structured(text, filename, version, parsers)
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
        # a field of an unexpected type (e.g. `environment: true`): bad input, one line
        raise UsageError(f"{filename or 'input'}: a field has an unexpected shape ({type(exc).__name__}: {exc})") from None


def _parse_structured(text: str, filename: str | None, version: str | None, parsers: Parsers) -> LaunchSpec:
    docs = load_yaml_docs(text, filename)
    name = filename or "input"
    dicts = [d for d in docs if isinstance(d, dict)]
    if not dicts:
        raise UsageError(f"{name}: unknown format (expected a compose file, a Kubernetes manifest or a recipe)")
    first = dicts[0]
    runtime = str(first.get("runtime") or "")
    if runtime and "recipe_version" in first and not runtime.startswith(("vllm", "eugr-vllm")):
        raise UsageError(f"{name}: a recipe for runtime `{runtime}`; sparkpilot lint checks vLLM launches")
    if "recipe_version" in first and not isinstance(first.get("command"), str):
        raise UsageError(f"{name}: this recipe has no `command:` (its launcher builds the command); lint the "
                         "vllm serve command it prints instead")
    if isinstance(first.get("services"), dict):
        spec = _compose(first, text, filename, version, parsers)
    elif isinstance(first.get("command"), str) and (
            {"defaults", "recipe_version", "env", "container", "runtime"} & set(first) or "model" in first):
        spec = _recipe(first, text, filename, version, parsers)
    elif any(_find_containers(d) for d in dicts):
        spec = _k8s(dicts, text, filename, version, parsers)
    elif len(dicts) == 1 and _is_vllm_config(first):
        from sparkpilot.vllm.config_file import parse_config_file

        spec = parse_config_file(first, text, filename, version, parsers)
    else:
        raise UsageError(f"{name}: unknown format (expected a compose file with `services:`, a Kubernetes "
                         "manifest with `containers:`, or a recipe with `command:`)")
    return spec


def _line_of(text: str, needle: str, filename: str | None) -> str | None:
    for i, line in enumerate(text.splitlines(), 1):
        if needle and needle in line and not line.lstrip().startswith("#"):
            return f"{filename or '<stdin>'}:{i}"
    return None


def _relocate(spec: LaunchSpec, text: str, filename: str | None) -> None:
    """Locations by searching the file (YAML loses line numbers inside folded strings)."""
    spec.locations = {}
    for use in spec.flag_uses:
        use.location = _line_of(text, use.written, filename) or use.location
        if use.location:
            spec.locations.setdefault(use.dest, use.location)
    for var in spec.env:
        loc = _line_of(text, var, filename)
        if loc:
            spec.locations.setdefault(var, loc)


def _env_from(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    if not isinstance(value, list):
        return out
    for item in value:
        if isinstance(item, dict) and "name" in item:  # Kubernetes
            if "value" in item:
                out[str(item["name"])] = str(item["value"])
            else:
                out[str(item["name"])] = "<from " + ",".join(k for k in item if k != "name") + ">"
        elif isinstance(item, str):
            k, _, v = item.partition("=")
            out[k] = v
    return out


def _words_to_spec(parts: list[str] | str, env: dict[str, str], filename: str | None, version: str | None,
                   kind: str, parsers: Parsers) -> LaunchSpec | None:
    """A command given as a list (exec form) or a string: parse it as a small shell script."""
    from sparkpilot.vllm.shell import quote

    if isinstance(parts, list):
        parts = [str(p) for p in parts]
        if len(parts) >= 3 and parts[0].rsplit("/", 1)[-1] in ("bash", "sh") and parts[1] in ("-c", "-lc", "-ec"):
            script = parts[2]
        else:
            script = " ".join(quote(p) for p in parts)
    else:
        script = str(parts)
    try:
        return parsers.script(script, filename, env=env, version=version, kind=kind)
    except UsageError:
        return None


# ----------------------------------------------------------------------------- compose


def _starts_with_serve(parts: list[str] | str | None) -> bool:
    if isinstance(parts, list):
        return bool(parts) and str(parts[0]) == "serve"
    return isinstance(parts, str) and parts.split(None, 1)[:1] == ["serve"]


def _compose(doc: dict, text: str, filename: str | None, version: str | None, parsers: Parsers) -> LaunchSpec:
    best: tuple[str, dict, LaunchSpec] | None = None
    ray_services: list[str] = []
    others: list[str] = []
    for name, svc in doc["services"].items():
        if not isinstance(svc, dict):
            continue
        env = _env_from(svc.get("environment"))
        entry = svc.get("entrypoint")
        cmd = svc.get("command")
        parts: list[str] | str | None
        if isinstance(entry, list) and isinstance(cmd, list):
            parts = [str(x) for x in entry] + [str(x) for x in cmd]
        elif isinstance(entry, list) and isinstance(cmd, str):
            parts = [str(x) for x in entry] + [cmd]
        elif isinstance(entry, str) and cmd:
            parts = entry + " " + (cmd if isinstance(cmd, str) else " ".join(map(str, cmd)))
        else:
            parts = cmd if cmd is not None else entry
        flat = " ".join(map(str, parts)) if isinstance(parts, list) else str(parts or "")
        if "ray start" in flat or "ray\nstart" in flat:
            ray_services.append(name)
        if parts is None:
            image = str(svc.get("image") or "")
            if "vllm" not in image.lower():
                continue
            parts = []
        spec = _words_to_spec(parts, env, filename, version, "compose", parsers) if parts else None
        if spec is None and "vllm" in str(svc.get("image") or "").lower() and isinstance(parts, list) \
                and (not parts or str(parts[0]).startswith("-")):
            spec = _words_to_spec(["vllm", "serve"] + list(parts), env, filename, version, "compose", parsers)
            if spec is not None:
                spec.origin["entry_args"] = True
        elif spec is None and entry is None and _starts_with_serve(parts):
            # the image's entrypoint is `vllm` and the command is `serve MODEL ...`
            spec = _words_to_spec(["vllm", *parts] if isinstance(parts, list) else "vllm " + str(parts),
                                  env, filename, version, "compose", parsers)
            if spec is not None:
                spec.origin["entry_vllm"] = True
                spec.notes.append(f"service `{name}`: `command: serve ...` read as the arguments of the image's "
                                  "`vllm` entrypoint")
        if spec is None:
            continue
        spec.env = {**env, **spec.env}
        spec.image = svc.get("image")
        spec.mounts = [str(v) for v in svc.get("volumes") or [] if isinstance(v, str)]
        ef = svc.get("env_file")
        spec.env_files = [ef] if isinstance(ef, str) else [str(x) for x in ef or []]
        if best is None:
            best = (name, svc, spec)
        else:
            others.append(name)
    if best is None:
        raise UsageError(f"{filename or 'input'}: no service in this compose file runs vLLM")
    name, svc, spec = best
    spec.source_kind = "compose"
    if others:
        spec.notes.append(f"checked service `{name}`; these also run vLLM and were not checked: {', '.join(others)}")
    spec.origin.update({"kind": "compose", "doc": doc, "service": name, "file_text": text})
    if ray_services:
        spec.multi_node_hints.append(f"`ray start` in service(s) {', '.join(ray_services)}")
        if spec.executor == "single":
            spec.executor = "ray"
    _relocate(spec, text, filename)
    return spec


# ----------------------------------------------------------------------------- Kubernetes


def _find_containers(obj: Any, path: tuple = ()) -> list[tuple[tuple, dict]]:
    found: list[tuple[tuple, dict]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("containers", "initContainers") and isinstance(v, list):
                found += [(path + (k, i), c) for i, c in enumerate(v) if isinstance(c, dict)]
            else:
                found += _find_containers(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += _find_containers(v, path + (i,))
    return found


def _k8s(docs: list[dict], text: str, filename: str | None, version: str | None, parsers: Parsers) -> LaunchSpec:
    for di, doc in enumerate(docs):
        for path, c in _find_containers(doc):
            parts = [str(x) for x in (c.get("command") or [])] + [str(x) for x in (c.get("args") or [])]
            env = _env_from(c.get("env"))
            if not parts and "vllm" not in str(c.get("image") or "").lower():
                continue
            spec = None
            if parts and find_vllm_args(parts) is None and parts[0].startswith("-") \
                    and "vllm" in str(c.get("image") or "").lower():
                spec = _words_to_spec(["vllm", "serve"] + parts, env, filename, version, "k8s", parsers)
                if spec is not None:
                    spec.origin["entry_args"] = True
            elif parts:
                spec = _words_to_spec(parts, env, filename, version, "k8s", parsers)
            if spec is None:
                continue
            spec.env = {**env, **spec.env}
            spec.image = c.get("image")
            spec.source_kind = "k8s"
            spec.origin.update({"kind": "k8s", "docs": docs, "doc_index": di, "path": path, "file_text": text})
            size = _lws_size(doc)
            if size and size > 1:
                spec.node_count = size
                spec.multi_node_hints.append(f"LeaderWorkerSet size {size}")
            _relocate(spec, text, filename)
            return spec
    raise UsageError(f"{filename or 'input'}: no container in this manifest runs vLLM")


def _lws_size(doc: dict) -> int | None:
    try:
        return int(doc["spec"]["leaderWorkerTemplate"]["size"])
    except (KeyError, TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------- recipes


def recipe_values(doc: dict) -> dict[str, Any]:
    values = {k: v for k, v in doc.items() if isinstance(v, (str, int, float)) and k != "command"}
    values.update(doc.get("defaults") or {})
    return values


def _recipe(doc: dict, text: str, filename: str | None, version: str | None, parsers: Parsers) -> LaunchSpec:
    from sparkpilot.vllm.shell import Word

    runtime = str(doc.get("runtime") or "vllm")
    if not runtime.startswith(("vllm", "eugr-vllm")):
        raise UsageError(f"{filename or 'input'}: a recipe for runtime `{runtime}`; sparkpilot lint checks vLLM launches")
    values = recipe_values(doc)
    env = {str(k): substitute(str(v), values) for k, v in (doc.get("env") or {}).items()}
    command = doc["command"]
    spec = parsers.script(command, filename, env=env, version=version, kind="recipe")
    # fill placeholders word by word, keeping the template for --fix
    words: list[Word] = spec.origin.get("words") or []
    for w in words:
        if "{" in w.text:
            w.orig = w.orig if w.orig is not None else w.text
            w.text = substitute(w.text, values)
    filled = [w.text for w in words]
    unresolved = sorted({p for w in filled for p in _placeholders(w)})
    if unresolved:
        spec.notes.append("placeholders without a default: " + ", ".join(unresolved))
    again = LaunchSpec(env=spec.env)
    found = find_vllm_args(filled)
    if found is None:
        raise UsageError(f"{filename or 'input'}: the recipe's command does not run vLLM")
    parse_vllm_args(again, words, found, filename, version)
    spec.options, spec.flag_uses, spec.model, spec.argv = again.options, again.flag_uses, again.model, again.argv
    spec.notes = [n for n in spec.notes if not n.startswith("extra argument")] + again.notes
    spec.env = {**env, **spec.env}
    spec.image = doc.get("container") or doc.get("image")
    spec.source_kind = "recipe"
    spec.launcher = "sparkrun" if (str(doc.get("recipe_version", "")) == "2" or "runtime" in doc) else "eugr"
    spec.origin.update({"kind": "recipe", "doc": doc, "values": values, "file_text": text})
    if doc.get("solo_only") or doc.get("max_nodes") == 1:
        spec.node_count = 1
        spec.multi_node_hints.append("recipe is single-node (solo_only / max_nodes: 1)")
    elif isinstance(doc.get("min_nodes"), int) and doc["min_nodes"] > 1:
        spec.node_count = doc["min_nodes"]
        spec.multi_node_hints.append(f"recipe min_nodes: {doc['min_nodes']}")
    elif doc.get("cluster_only"):
        spec.multi_node_hints.append("recipe is cluster_only")
        if spec.executor == "single":
            spec.executor = "ray"
    _relocate(spec, text, filename)
    return spec


def _placeholders(word: str) -> list[str]:
    import re

    return re.findall(r"\{(\w+)\}", word)


def _is_vllm_config(doc: dict) -> bool:
    from sparkpilot.vllm.config_file import looks_like_config

    return looks_like_config(doc)
