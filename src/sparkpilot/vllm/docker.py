"""`docker run ... IMAGE [vllm serve ...]` lines: image, -e/--env/--env-file, -v, --entrypoint, and the
vLLM command after the image (or the image's own entrypoint arguments, or `bash -c "script"`)."""

from __future__ import annotations

from sparkpilot.vllm.launchspec import LaunchSpec
from sparkpilot.vllm.argv import Parsers, find_vllm_args, loc, parse_vllm_args
from sparkpilot.vllm.shell import ASSIGN, Word

# docker run options that take a value (the rest are booleans such as -d, -i, -t, --rm).
DOCKER_VALUE = {
    "-e", "--env", "--env-file", "-v", "--volume", "-p", "--publish", "--name", "--gpus", "--ipc",
    "--network", "--net", "--ulimit", "--shm-size", "--entrypoint", "-w", "--workdir", "--runtime",
    "--device", "--mount", "--restart", "--memory", "-m", "--cpus", "--label", "-l", "-u", "--user",
    "--hostname", "-h", "--add-host", "--cap-add", "--cap-drop", "--security-opt", "--pid", "--log-opt",
    "--log-driver", "--oom-score-adj", "--platform", "--pull", "--cgroupns", "--tmpfs", "--stop-signal",
    "--memory-swap", "--cpuset-cpus", "--uts", "--userns", "--group-add", "--dns", "--expose",
    "--health-cmd", "--stop-timeout", "--volumes-from", "--device-cgroup-rule", "--label-file",
    "--cidfile", "--ip", "--mac-address", "--memory-reservation", "--sysctl", "--storage-opt",
}


def docker_run_at(argv: list[str], verb: str = "run") -> int | None:
    """Index of the first option when the command is `[sudo] docker [container] run` (or `exec`)."""
    for i, a in enumerate(argv[:4]):
        if a.rsplit("/", 1)[-1] in ("docker", "podman", "nerdctl"):
            j = i + 1
            if j < len(argv) and argv[j] == "container":
                j += 1
            if j < len(argv) and argv[j] == verb:
                return j + 1
            return None
    return None


def from_docker_exec(words: list[Word], at: int, env: dict[str, str], prefix: list[Word], *,
                     filename: str | None, version: str | None, parsers: Parsers) -> LaunchSpec | None:
    """`docker exec [-it] [-e VAR=x] CONTAINER bash -c 'vllm serve ...'` (NVIDIA's two-Spark playbook
    starts the server so, in the Ray container run_cluster.sh made): the command runs in a container
    that already exists, so the launch has no image of its own and no `docker run` line."""
    spec = from_docker(words, at, env, prefix, filename=filename, version=version, parsers=parsers, exec_form=True)
    if spec is None:
        return None
    spec.image = None
    spec.origin["docker"]["exec"] = True
    # the container's own environment (run_cluster.sh -e ...) is not in this command
    box = words[spec.origin["docker"]["image_at"]]
    unseen = f"the environment of container {box.orig if box.orig is not None else box.text}"
    spec.env_files.append(unseen)
    spec.origin["docker"]["unseen_env"] = unseen
    spec.source_kind = "script" if "inner" in spec.origin else "command"
    return spec


def from_docker(words: list[Word], at: int, env: dict[str, str], prefix: list[Word], *,
                 filename: str | None, version: str | None, parsers: Parsers,
                 exec_form: bool = False) -> LaunchSpec | None:
    host_env = dict(env)
    denv: dict[str, str] = {}
    locs: dict[str, str] = {}
    mounts: list[str] = []
    env_files: list[str] = []
    entrypoint: str | None = None
    i = at
    image_at = None
    while i < len(words):
        w = words[i].text
        if not w.startswith("-") or w == "-":
            image_at = i
            break
        opt, val, eq = w, "", False
        if w.startswith("--") and "=" in w:
            opt, val = w.split("=", 1)
            eq = True
        elif len(w) > 2 and w[1] in "evpmwulh" and not w.startswith("--") and w[:2] in DOCKER_VALUE:
            opt, val, eq = w[:2], w[2:], True
        if opt in DOCKER_VALUE:
            if not eq:
                val = words[i + 1].text if i + 1 < len(words) else ""
            if opt in ("-e", "--env"):
                m = ASSIGN.match(val)
                if m:
                    denv[m.group(1)] = m.group(2)
                    locs[m.group(1)] = loc(filename, words[i].line)
                elif val:
                    denv[val] = host_env.get(val, f"${val}")
                    locs[val] = loc(filename, words[i].line)
            elif opt == "--env-file":
                env_files.append(val)
            elif opt in ("-v", "--volume"):
                mounts.append(val)
            elif opt == "--entrypoint":
                entrypoint = val
            i += 1 if eq else 2
        else:
            i += 1
    if image_at is None:
        return None
    image = words[image_at].text
    rest = ([Word(entrypoint, words[image_at].line, orig=entrypoint)] if entrypoint else []) + words[image_at + 1:]
    inner_argv = [w.text for w in rest]
    spec: LaunchSpec | None = None
    entry_args = False
    if len(inner_argv) >= 3 and inner_argv[0].rsplit("/", 1)[-1] in ("bash", "sh") and inner_argv[1] in ("-c", "-lc", "-ec"):
        spec = parsers.script(inner_argv[2], filename, env=denv, version=version)
        spec.origin = {"inner": spec.origin, "vllm_start": None}
    else:
        start = find_vllm_args(inner_argv)
        if start is None and not exec_form and "vllm" in image.lower() and (
                not inner_argv or inner_argv[0].startswith("-") or "/" in inner_argv[0]):
            # the image's entrypoint is the vLLM server: the words are its arguments
            rest = [Word("<entrypoint>", words[image_at].line, orig="")] + rest
            start, entry_args = (0, 1), True
        if start is None:
            return None
        spec = LaunchSpec(env=dict(denv))
        parse_vllm_args(spec, rest, start, filename, version)
        if entry_args:
            spec.argv = ["vllm", "serve"] + spec.argv[1:]
            for use in spec.flag_uses:
                use.index += 1
        spec.origin = {"vllm_start": start[0]}
    spec.env = {**denv, **spec.env}
    for k, v in locs.items():
        spec.locations.setdefault(k, v)
    spec.image = image
    spec.mounts = mounts + spec.mounts
    spec.env_files = env_files + spec.env_files
    spec.origin.update({"prefix": prefix, "words": words, "docker": {"run_at": at, "image_at": image_at},
                        "vllm_words": rest, "entry_args": entry_args,
                        "entrypoint_word": bool(entrypoint)})
    spec.source_kind = "docker"
    spec.docker_args = None if exec_form else [w.text for w in words[at:image_at]]  # exec: the container exists
    return spec
