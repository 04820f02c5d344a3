"""A real Docker engine per simulated node (DESIGN.md "Testing without a Spark").

Each node's dockerd runs
  - in the node's network namespace, entered with `nsenter --net` (not `ip netns exec`, which
    remounts /sys and hides the cgroup mounts dockerd needs), so `docker run --network host`
    containers see only that node's ports and addresses, as on a Spark;
  - in its own UTS namespace (the node's hostname), IPC namespace and mount namespace with a
    private /dev/shm: vLLM tells nodes apart by shared memory, and `--ipc host` containers of two
    nodes must not share one;
  - with its own --data-root, --exec-root, --pidfile and unix socket, --bridge=none
    --iptables=false (nothing touches the machine's firewall), and a cgroup parent of its own, so
    every process of its containers is found again at teardown;
  - with the stub `nvidia-container-runtime-hook` (CONTRACTS.md "GPUs in the simulated cluster")
    first on its PATH, so the real `docker run --gpus all` is accepted.

The images come from a template data root built once per machine (images.py): a node's data root
is a copy whose image layers point to the template's (overlay2 never writes to a lower layer), so
a node gets every image at once and with no extra disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

HOOK = "nvidia-container-runtime-hook"
HOOK_TEXT = ("#!/bin/sh\n# simulated Spark: stand-in for the NVIDIA container hook (CONTRACTS.md).\n"
             "# Docker asks for it on `--gpus all`; there is no GPU to hand to the container.\n"
             "cat >/dev/null\nexit 0\n")


class DockerError(RuntimeError):
    pass


def missing_docker() -> str | None:
    for tool in ("dockerd", "docker", "containerd", "runc", "nsenter", "unshare"):
        if shutil.which(tool) is None and not os.access(f"/usr/sbin/{tool}", os.X_OK):
            return f"`{tool}` is not installed (tests/run.sh installs docker.io)"
    return None


def copy_data_root(template: str, dest: str) -> None:
    """dest = template with each image layer's files (overlay2/<id>/diff) a symlink to the
    template's (overlay mounts them read-only as lower layers; O(1) instead of 50,000 links),
    the rest copied (small: image metadata, the layer db)."""
    tpl = Path(template)
    os.makedirs(dest, mode=0o710, exist_ok=False)
    for entry in tpl.iterdir():
        if entry.name == "overlay2":
            continue
        subprocess.run(["cp", "-a", str(entry), dest], check=True)
    layers = tpl / "overlay2"
    if layers.is_dir():
        out = Path(dest, "overlay2")
        out.mkdir(mode=0o710)
        for layer in layers.iterdir():
            if layer.is_dir() and (layer / "diff").is_dir():
                (out / layer.name).mkdir(mode=0o710)
                for part in layer.iterdir():
                    if part.name == "diff":
                        os.symlink(part.resolve(), out / layer.name / "diff")
                    else:
                        subprocess.run(["cp", "-a", str(part), str(out / layer.name)], check=True)
            else:  # l/ (short-name symlinks) and anything else
                subprocess.run(["cp", "-a", str(layer), str(out)], check=True)


class NodeDocker:
    """The dockerd of one node: `start()`, `env()` for a docker client, `stop()`."""

    def __init__(self, node, hostname: str, template: str | None) -> None:
        self.node = node
        self.hostname = hostname
        self.template = template
        self.dir = os.path.join(node.dir, "docker")
        self.data_root = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "x")
        self.bin = os.path.join(self.dir, "bin")
        self.socket = os.path.join(self.dir, "docker.sock")
        self.pidfile = os.path.join(self.dir, "dockerd.pid")
        self.log = os.path.join(self.dir, "dockerd.log")
        self.cgroup_parent = f"sparkpilot-sim-{node.netns}"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        """Environment for a `docker` client that talks to this node's engine."""
        return {**os.environ, "DOCKER_HOST": self.host}

    def docker(self, *args: str, check: bool = True, timeout: float = 120,
               input: str | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True,
                              timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise DockerError(f"docker {' '.join(args[:3])} on {self.node.name}: "
                              f"{proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def argv(self) -> list[str]:
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        flags = [dockerd, "--data-root", self.data_root, "--exec-root", self.exec_root,
                 "--pidfile", self.pidfile, "-H", self.host, "--bridge=none", "--iptables=false",
                 "--ip-masq=false", "--ip-forward=false", "--userland-proxy=false",
                 "--storage-driver=overlay2", "--cgroup-parent", self.cgroup_parent,
                 "--log-level=warn"]
        script = ('hostname "$1" && mount -t tmpfs -o mode=1777,size=8g shm /dev/shm && '
                  'shift && exec "$@"')
        return self.node.nsenter_argv("unshare", "--uts", "--ipc", "--mount", "--propagation", "private",
                                      "sh", "-c", script, "dockerd", self.hostname, *flags)

    def start(self, timeout: float = 60) -> None:
        os.makedirs(self.bin, exist_ok=True)
        hook = Path(self.bin, HOOK)
        hook.write_text(HOOK_TEXT)
        hook.chmod(0o755)
        if self.template and not os.path.isdir(self.data_root):
            copy_data_root(self.template, self.data_root)
        env = {"PATH": f"{self.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": os.path.join(self.node.dir, "home"), "LANG": "C.UTF-8"}
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise DockerError(f"dockerd on {self.node.name} exited {proc.returncode}: {self._log_tail()}")
            if os.path.exists(self.socket) and self.docker("version", check=False, timeout=10).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise DockerError(f"dockerd on {self.node.name} did not answer in {timeout:.0f} s: "
                                  f"{self._log_tail()}")
            time.sleep(0.1)

    def _log_tail(self) -> str:
        try:
            return " | ".join(Path(self.log).read_text().strip().splitlines()[-3:])
        except OSError:
            return ""

    def pid(self) -> int | None:
        try:
            return int(Path(self.pidfile).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def processes(self) -> list[int]:
        """Every process of this engine: dockerd and its containerd, shims (found by the exec
        root in their argv) and each container's processes (found by the cgroup parent)."""
        pids = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmdline = Path("/proc", entry, "cmdline").read_bytes()
                cgroup = Path("/proc", entry, "cgroup").read_text()
            except OSError:
                continue
            if self.dir.encode() in cmdline or f"/{self.cgroup_parent}/" in cgroup:
                pids.add(int(entry))
        return sorted(pids)

    def stop(self, grace: float = 10) -> None:
        """Remove every container, stop dockerd, kill whatever is left. Safe to repeat."""
        if os.path.exists(self.socket):
            ids = self.docker("ps", "-aq", check=False, timeout=20).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False, timeout=60)
        pid = self.pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
        _kill_until_gone(self.processes, rounds=3, pause=0.2)


def _kill_until_gone(find, rounds: int, pause: float) -> None:
    """SIGKILL what `find()` lists, up to `rounds` times, until it lists nothing."""
    for _ in range(rounds):
        left = find()
        if not left:
            return
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(pause)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _procs_matching(needles: list[bytes], cgroup_prefix: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
            cgroup = Path("/proc", entry, "cgroup").read_text()
        except OSError:
            continue
        if any(n in cmdline for n in needles) or f"/{cgroup_prefix}" in cgroup:
            pids.append(int(entry))
    return pids


def cgroup_dirs(slot: int) -> list[Path]:
    """The cgroup directories the slot's dockerds made (one per controller and node)."""
    root = Path("/sys/fs/cgroup")
    found: list[Path] = []
    for ctrl in [root, *[p for p in root.iterdir() if p.is_dir()]] if root.is_dir() else []:
        found += sorted(ctrl.glob(f"sparkpilot-sim-spk{slot}-*"))
    return found


def stop_engines(slot: int, directory: str | None) -> None:
    """End every node dockerd of a cluster slot and everything they started: containers' processes
    (found by the slot's cgroup parents, wherever their network namespace is), dockerd, containerd
    and shims (found by the cluster directory in their argv), then the slot's cgroup directories.
    SIGKILL, no API calls: the data roots are thrown away, and each dockerd's mounts live in its own
    mount namespace, which goes with its last process. Used by the cluster's teardown; safe to repeat."""
    needles = [os.path.join(directory, "node-").encode()] if directory else []
    prefix = f"sparkpilot-sim-spk{slot}-"
    _kill_until_gone(lambda: _procs_matching(needles, prefix), rounds=20, pause=0.1)
    for d in sorted(cgroup_dirs(slot), key=lambda p: -len(p.parts)):
        for sub in sorted(d.glob("**/"), key=lambda p: -len(p.parts)):
            try:
                sub.rmdir()
            except OSError:
                pass


def netns_ids(slot: int) -> set[str]:
    """The slot's network namespaces as /proc/PID/ns/net names them (read before a teardown)."""
    ids = set()
    for p in Path("/var/run/netns").glob(f"spk{slot}-*") if Path("/var/run/netns").is_dir() else []:
        try:
            ids.add(f"net:[{os.stat(p).st_ino}]")
        except OSError:
            pass
    return ids


def leftovers(slot: int, directory: str | None, namespaces: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """What of a stopped cluster slot is still there (empty when the teardown was complete):
    processes in its cgroups, naming its directory or inside one of `namespaces` (netns_ids()
    taken before the teardown), its named namespaces, its cgroup directories."""
    deadline = time.monotonic() + 10  # SIGKILLed processes take a moment to be gone
    while True:
        out = _leftovers(slot, directory, namespaces)
        if not out or time.monotonic() > deadline:
            return out
        time.sleep(0.2)


def _describe(pid: int | str) -> str | None:
    """`pid: cmdline`, or None when the process is gone or a zombie (ended, not yet reaped)."""
    try:
        stat = Path("/proc", str(pid), "stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return None
        return f"{pid}: {Path('/proc', str(pid), 'cmdline').read_bytes()[:120]!r}"
    except (OSError, IndexError):
        return None


def _leftovers(slot: int, directory: str | None, namespaces: set[str] | frozenset[str]) -> list[str]:
    out = []
    needles = [os.path.join(directory, "node-").encode()] if directory else []
    for pid in _procs_matching(needles, f"sparkpilot-sim-spk{slot}-"):
        desc = _describe(pid)
        if desc:
            out.append(f"process {desc}")
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    out += [f"namespace {n}" for n in names if n.startswith(f"spk{slot}-")]
    for name in os.listdir("/proc"):  # any process still inside one of the slot's namespaces
        if name.isdigit():
            try:
                inside = os.readlink(f"/proc/{name}/ns/net") in namespaces
            except OSError:
                continue
            desc = _describe(name) if inside else None
            if desc:
                out.append(f"process {desc} (in a namespace of slot {slot})")
    out += [f"cgroup {d}" for d in cgroup_dirs(slot)]
    return out
