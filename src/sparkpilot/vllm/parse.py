"""Parse any vLLM launch into a LaunchSpec.

    parse_text(text, filename=None)   auto-detects: a command line or shell script (with `docker run`
                                      or `./launch-cluster.sh ... exec vllm serve`), a docker compose
                                      file, a Kubernetes manifest, or a recipe (eugr/spark-vllm-docker
                                      `{placeholder}` templates + defaults + env; sparkrun recipes)
    parse_argv(argv, env=None)        one command as words (`sparkpilot lint -- vllm serve ...`)

Bad input (binary data, empty text, nothing that runs vLLM, unknown YAML) raises UsageError.
"""

from __future__ import annotations

import re
from typing import Any

from sparkpilot.errors import UsageError
from sparkpilot.vllm import docker
from sparkpilot.vllm.argv import Parsers, find_vllm_args, is_entry_module, loc, parse_vllm_args, substitute
from sparkpilot.vllm.launchspec import LaunchSpec, NodeLaunch
from sparkpilot.vllm.shell import ASSIGN, Command, Word, expand, expand_words, split_commands



def parse_argv(argv: list[str], env: dict[str, str] | None = None, *, version: str | None = None) -> LaunchSpec:
    """One command given as words, e.g. the words after `sparkpilot lint --`."""
    argv = [str(a) for a in argv]
    if not argv or not any(a.strip() for a in argv):
        raise UsageError("empty command: give a vLLM launch, e.g. `sparkpilot lint -- vllm serve MODEL`")
    words = [Word(a, 0, quoted=True, orig=a) for a in argv]
    spec = _from_command(Command(words=words), dict(env or {}), filename=None, version=version)
    if spec is None and (inner := _shell_c(argv)) is not None:
        # `[VAR=x ...] bash -c 'ray start ... && exec vllm serve ...'` (e.g. a plan's per-node argv)
        assigns, script = inner
        merged = dict(env or {})
        merged.update(a.split("=", 1) for a in assigns)  # type: ignore[misc]  # NAME=VALUE words: two parts
        return parse_script(script, None, env=merged, version=version)
    if spec is None:
        raise UsageError(f"no vLLM command found in `{' '.join(argv[:4])}...`: expected `vllm serve MODEL ...`, "
                         "`python -m vllm.entrypoints.openai.api_server ...` or `docker run ... IMAGE vllm serve ...`")
    spec.source_kind = _kind_of(spec, "command")
    for use in spec.flag_uses:
        use.location = f"arg {use.index + 1}"
        spec.locations.setdefault(use.dest, use.location)
    _infer_nodes(spec)
    return spec


def _shell_c(argv: list[str]) -> tuple[list[str], str] | None:
    """(leading VAR=x words, script) of `[VAR=x ...] [env] bash|sh -c SCRIPT`, else None."""
    i = 0
    while i < len(argv) and ASSIGN.match(argv[i]):
        i += 1
    j = i + 1 if i < len(argv) and argv[i] == "env" else i
    if len(argv) >= j + 3 and argv[j].rsplit("/", 1)[-1] in ("bash", "sh") and argv[j + 1] in ("-c", "-lc", "-ec"):
        return argv[:i], argv[j + 2]
    return None


def parse_text(text: str | bytes, filename: str | None = None, *, version: str | None = None) -> LaunchSpec:
    """Auto-detect the kind of launch in text and parse it."""
    if isinstance(text, bytes):
        if b"\x00" in text[:8192]:
            raise UsageError(f"{filename or 'input'}: binary data, not a launch")
        text = text.decode("utf-8", errors="replace")   # a stray Latin-1 byte in a comment is fine
    if "\x00" in text or _mostly_binary(text):
        raise UsageError(f"{filename or 'input'}: binary data, not a launch")
    if not text.strip():
        raise UsageError(f"{filename or 'input'}: empty input, no launch to check")
    if _looks_structured(text, filename):
        from sparkpilot.vllm import structured   # YAML forms only: a command line does not pay for it

        spec = structured.parse_structured(text, filename, version=version, parsers=PARSERS)
    else:
        spec = parse_script(text, filename, version=version)
    spec.filename = filename
    if "config" in spec.options:
        from sparkpilot.vllm import config_file

        config_file.merge_config_option(spec, filename, PARSERS)
    _infer_nodes(spec)
    _head_node(spec)
    return spec


def _head_node(spec: LaunchSpec) -> None:
    """The node the launch runs on (the head of a cluster): what `up` would start there."""
    if spec.nodes:
        return
    o = spec.origin or {}
    docker = None
    if o.get("docker") and o.get("words") and not o["docker"].get("exec"):
        docker = [w.text for w in o["words"]]
    spec.nodes = [NodeLaunch(name="head", role="head", argv=list(spec.argv), env=dict(spec.env),
                             mounts=list(spec.mounts), docker_run=docker)]


def _mostly_binary(text: str) -> bool:
    sample = text[:4096]
    bad = sum(1 for c in sample if (ord(c) < 32 and c not in "\t\n\r\f") or c == "\ufffd")
    return bad > max(8, len(sample) // 50)


_YAML_KEY = re.compile(r"^[A-Za-z_][\w.-]*\s*:(\s|$)")


def _looks_structured(text: str, filename: str | None) -> bool:
    if filename and filename.lower().endswith((".yaml", ".yml", ".json")):
        return True
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s == "---":
            continue
        return bool(_YAML_KEY.match(s)) or s.startswith("{")
    return False


# ----------------------------------------------------------------------------- shell scripts


def parse_script(text: str, filename: str | None = None, *, env: dict[str, str] | None = None,
                 version: str | None = None, first_line: int = 1, kind: str | None = None) -> LaunchSpec:
    notes: list[str] = []
    commands = split_commands(text, first_line, notes)
    env = dict(env or {})
    shell_env: dict[str, str] = {}   # what the script set (for locations and --fix)
    env_lines: dict[str, int] = {}
    hints: list[str] = []
    cluster_env: dict[str, str] = {}
    cluster_nodes: int | None = None
    cluster_cmd: Command | None = None
    found: LaunchSpec | None = None
    for cmd in commands:
        words = expand_words(cmd.words, env)
        argv = [w.text for w in words]
        if not argv:
            continue
        if argv[0] == "export" or all(ASSIGN.match(a) for a in argv):
            for w in words[1:] if argv[0] == "export" else words:
                m = ASSIGN.match(w.text)
                if m:
                    env[m.group(1)] = m.group(2)
                    shell_env[m.group(1)] = m.group(2)
                    env_lines[m.group(1)] = w.line
            continue
        if argv[0] == "unset":
            for a in argv[1:]:
                env.pop(a, None)
            continue
        if _is_ray_start(argv):
            hints.append(f"`ray start` at line {cmd.first_line}")
            continue
        helper = _cluster_helper(argv, cmd.first_line)
        if helper:
            if "run_cluster.sh" in helper[0] and cluster_cmd is None:
                cluster_cmd = Command(words=words, sep=cmd.sep)
            hints.append(helper[0])
            cluster_env.update(helper[1])
            if helper[2]:
                cluster_nodes = helper[2]
            if found is None and find_vllm_args(argv) is None:
                continue
        if found is None:
            spec = _from_command(Command(words=words, sep=cmd.sep), env, filename=filename, version=version)
            if spec is not None:
                spec.origin["command"] = cmd
                found = spec
    if found is None and cluster_cmd is not None:
        found = _cluster_only(cluster_cmd, cluster_env)
    if found is None:
        raise UsageError(f"{filename or 'input'}: no vLLM command found (expected `vllm serve MODEL ...`, "
                         "`python -m vllm.entrypoints.openai.api_server ...` or `docker run ... vllm serve ...`)")
    for var, line in env_lines.items():
        found.locations.setdefault(var, loc(filename, line))
    found.multi_node_hints.extend(hints)
    found.notes.extend(notes)
    image = cluster_env.pop("<image>", None)
    if image and "$" not in image and not found.image:
        found.image = image
    for k, v in cluster_env.items():   # run_cluster.sh -e: the Ray containers' environment
        found.env.setdefault(k, v)
    unseen = (found.origin.get("docker") or {}).get("unseen_env")
    if unseen and any("run_cluster.sh" in h for h in hints):
        found.env_files.remove(unseen)   # docker exec into the container this script's run_cluster.sh made
    if cluster_nodes and not found.node_count:
        found.node_count = cluster_nodes
    if hints and found.executor == "single":
        found.executor = "ray"
    found.origin.update({"kind": "script", "text": text, "script_env": shell_env})
    nlines = len([ln for ln in text.strip().splitlines() if ln.strip() and not ln.strip().startswith("#")])
    found.source_kind = kind or _kind_of(found, "command" if nlines <= 1 or len(commands) == 1 else "script")
    return found


def _cluster_only(cmd: Command, cluster_env: dict[str, str]) -> LaunchSpec:
    """A script that only starts vLLM's Ray container (`run_cluster.sh IMAGE HEAD_IP --head|--worker PATH
    -e VAR=...`, NVIDIA's two-Spark playbook Steps 4-5) and serves later by hand: no vLLM command to
    judge, but the containers' environment is the cluster's, so that is what lint judges."""
    argv = [w.text for w in cmd.words]
    role = "head" if "--head" in argv else "worker" if "--worker" in argv else "node"
    spec = LaunchSpec(env={k: v for k, v in cluster_env.items() if k != "<image>"}, executor="ray", node_count=2)
    spec.multi_node_hints.append(f"run_cluster.sh --{role}: one node of a Ray cluster (2 Sparks or more)")
    spec.notes.append("no vLLM command in this script: only the Ray containers' environment (run_cluster.sh -e) "
                      "is checked; lint the `vllm serve` line as well")
    spec.origin = {"cluster_only": True, "words": list(cmd.words), "command": cmd, "prefix": [],
                   "vllm_start": len(cmd.words), "docker": None}
    return spec


def _kind_of(spec: LaunchSpec, plain: str) -> str:
    """"docker" for a `docker run` (one container, its own image); a `docker exec` runs in a container
    made elsewhere (NVIDIA's playbook: run_cluster.sh's Ray container), so it is judged like a command."""
    if spec.origin.get("cluster_only"):
        return "cluster"
    docker = spec.origin.get("docker")
    return "docker" if docker and not docker.get("exec") else plain


def _cluster_helper(argv: list[str], line: int) -> tuple[str, dict[str, str], int | None] | None:
    """vLLM's own Ray helpers: examples/online_serving/run_cluster.sh (Ray in docker, `-e` env for the
    containers) and multi-node-serving.sh leader --ray_cluster_size=N (Kubernetes LWS)."""
    names = [a.rsplit("/", 1)[-1] for a in argv]
    if "run_cluster.sh" in names:
        env = {}
        for i, a in enumerate(argv[:-1]):
            m = ASSIGN.match(argv[i + 1]) if a in ("-e", "--env") else None
            if m:
                env[m.group(1)] = m.group(2)
        at = names.index("run_cluster.sh")
        if at + 1 < len(argv) and not argv[at + 1].startswith("-"):
            env["<image>"] = argv[at + 1]   # run_cluster.sh IMAGE HEAD_IP --head|--worker PATH [docker args]
        return f"run_cluster.sh (Ray in docker) at line {line}", env, None
    if "multi-node-serving.sh" in names and "leader" in argv:
        size = next((a.split("=", 1)[1] for a in argv if a.startswith("--ray_cluster_size=")), "")
        return f"multi-node-serving.sh leader (Ray) at line {line}", {}, int(size) if size.isdigit() else None
    return None


def _is_ray_start(argv: list[str]) -> bool:
    for i in range(len(argv) - 1):
        if argv[i].rsplit("/", 1)[-1] == "ray" and argv[i + 1] == "start":
            return True
    return False


def _from_command(cmd: Command, env: dict[str, str], *, filename: str | None,
                  version: str | None) -> LaunchSpec | None:
    """A LaunchSpec when this simple command runs vLLM (directly or via docker run), else None."""
    words = list(cmd.words)
    env = dict(env)
    prefix: list[Word] = []
    while words and (m := ASSIGN.match(words[0].text)):
        env[m.group(1)] = m.group(2)
        prefix.append(words.pop(0))
    argv = [w.text for w in words]
    at = docker.docker_run_at(argv)
    if at is not None:
        return docker.from_docker(words, at, env, prefix, filename=filename, version=version, parsers=PARSERS)
    at = docker.docker_run_at(argv, "exec")
    if at is not None:
        return docker.from_docker_exec(words, at, env, prefix, filename=filename, version=version, parsers=PARSERS)
    start = find_vllm_args(argv)
    if start is None:
        return None
    spec = LaunchSpec(env=dict(env))
    for w in prefix:
        spec.locations[w.text.split("=", 1)[0]] = loc(filename, w.line)
    parse_vllm_args(spec, words, start, filename, version)
    _launcher_words(spec, argv[:start[0]])
    spec.origin = {"prefix": prefix, "words": words, "vllm_start": start[0], "docker": None}
    return spec


def _launcher_words(spec: LaunchSpec, before: list[str]) -> None:
    """eugr/spark-vllm-docker's `launch-cluster.sh [-t IMAGE] ... exec vllm serve ...`."""
    if not before or not any(w.rsplit("/", 1)[-1] == "launch-cluster.sh" for w in before):
        return
    for i, w in enumerate(before[:-1]):
        if w in ("-t", "--tag", "--image"):
            spec.image = before[i + 1]
    spec.launcher = "eugr"
    if "--solo" in before:
        spec.node_count = 1
        spec.multi_node_hints.append("launch-cluster.sh --solo")
    else:
        spec.multi_node_hints.append("eugr launch-cluster.sh")


_NODES_IN_PATH = re.compile(r"(\d+)x-spark")


def _infer_nodes(spec: LaunchSpec) -> None:
    """Executor and node count from what the launch says (CONTRACTS.md, "Executors")."""
    opts = spec.options
    backend = str(opts.get("distributed_executor_backend") or "").lower()
    nnodes = _int(opts.get("nnodes"))
    if nnodes and nnodes > 1:
        spec.executor = "native"
        spec.node_count = spec.node_count or nnodes
        spec.multi_node_hints.append(f"--nnodes {nnodes}")
    elif backend == "ray":
        spec.executor = "ray"
        spec.multi_node_hints.append("--distributed-executor-backend ray")
    if spec.filename and spec.node_count is None:
        m = _NODES_IN_PATH.search(spec.filename)
        if m:
            spec.node_count = int(m.group(1))
            spec.multi_node_hints.append(f"file path says {m.group(0)}")
    if spec.executor == "single" and spec.node_count and spec.node_count > 1:
        spec.executor = "ray"


def _int(v: Any) -> int | None:
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return None


PARSERS = Parsers(script=parse_script, argv=parse_argv)   # what a nested form parses its inner text with

__all__ = ["expand", "find_vllm_args", "is_entry_module", "parse_argv", "parse_script", "parse_text", "substitute"]
