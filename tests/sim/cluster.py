"""A simulated cluster of DGX Sparks on one Linux machine (root needed).

Each node is a network namespace `spk<slot>-<i>` with
  - a management port `enP7s7` (10.77.<slot>.<i+1>/24) on a veth to a bridge that lives in its own
    namespace `spk<slot>-hub` (Docker's iptables in the root namespace never sees that bridge);
    the root namespace joins the bridge as 10.77.<slot>.254 so tests reach every node;
  - the QSFP ports of a real Spark: `enp1s0f1np1` / `enP2p1s0f1np1` with 192.168.100.x /
    192.168.101.x and MTU 9000, `enp1s0f0np0` / `enP2p1s0f0np0` present without carrier, as on a
    Spark with one cable. fabric="cable" (default for 1-2 nodes): veth pairs straight to the paired
    node (0-1, 2-3, ...), like the direct DAC cable; fabric="switch" (default for 3+): every port on
    one bridge per rail in the hub namespace (MTU 9000), like Sparks on a QSFP switch. So
    `ip -j link`, `ip -j addr` and don't-fragment `ping` are real;
  - a real sshd (own host key, key-only root login for the cluster's key, SetEnv
    SPARKPILOT_HOST_ROOT=<node>/root and PATH=<node>/bin:...) in its own UTS namespace
    (hostname spark-<slot>-<i>), so probes read the node's recorded tree and run its stand-in tools;
  - a known_hosts file and an ssh_config written by the cluster: host keys are checked for real.

    cluster = Cluster.start(["healthy", "healthy", "driver-590"])
    cluster.nodes[0].ssh_spec  -> "root@10.77.0.1";  cluster.env() -> {"SPARKPILOT_SSH_CONFIG": ...}
    cluster.stop()

Slots (0..15) let several clusters run side by side; a slot whose owner died is reclaimed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import node as nodefiles
from .dockerd import NodeDocker, missing_docker, stop_engines

STATE_DIR = Path("/run/sparkpilot-sim")
SSHD = "/usr/sbin/sshd"
MAX_SLOTS = 16


class SimError(RuntimeError):
    pass


def missing_requirements() -> str | None:
    """Why the simulated cluster cannot run here, or None."""
    if os.geteuid() != 0:
        return "the simulated cluster needs root (network namespaces, sshd)"
    for tool in ("ip", "ssh", "ssh-keygen", "unshare", "ping"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (tests/run.sh installs iproute2, openssh, iputils-ping)"
    if not os.access(SSHD, os.X_OK):
        return f"{SSHD} is missing (apt-get install openssh-server)"
    return None


def sh(*argv: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise SimError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def ip_batch(lines: list[str], netns: str | None = None) -> None:
    """Many `ip` commands in one process (`ip -batch -`); much faster than one each."""
    if lines:
        sh("ip", *(["-n", netns] if netns else []), "-batch", "-", input="\n".join(lines) + "\n")


@dataclass
class Node:
    index: int
    name: str  # ssh alias in the cluster's ssh_config, also the hostname
    netns: str
    profile: str
    mgmt_ip: str
    qsfp_ips: dict[str, str]  # QSFP port -> address (without prefix length)
    peer: int | None  # index of the node at the other end of the QSFP cable
    dir: str
    up: bool = True  # sshd running and the management port up
    pid: int | None = None
    has_docker: bool = False  # a real dockerd runs in this node (Cluster.start(docker=True))

    @property
    def docker(self) -> NodeDocker:
        """This node's Docker engine (dockerd.py): `.docker(*args)`, `.env()`, `.host`."""
        return NodeDocker(self, self.hostname, None)

    def docker_env(self) -> dict[str, str]:
        """Environment for a `docker` client on the machine that talks to this node's dockerd."""
        return self.docker.env()

    @property
    def hostname(self) -> str:
        return self.name.replace("spk", "spark-", 1)

    @property
    def hf_home(self) -> str:
        """The node's Hugging Face cache (its home is <dir>/home, as over ssh)."""
        return os.path.join(self.dir, "home", ".cache", "huggingface")

    @property
    def ssh_spec(self) -> str:
        return f"root@{self.mgmt_ip}"

    @property
    def root(self) -> str:
        return os.path.join(self.dir, "root")

    def nsenter_argv(self, *argv: str) -> list[str]:
        """argv in this node's network namespace only (no /sys remount, unlike `ip netns exec`):
        what per-node daemons such as dockerd need (DESIGN.md)."""
        return ["nsenter", f"--net=/var/run/netns/{self.netns}", *argv]

    def exec_argv(self, *argv: str) -> list[str]:
        """argv that runs inside this node's network namespace, with its PATH and host root."""
        env = [f"PATH={self.dir}/bin:/usr/sbin:/usr/bin:/sbin:/bin", f"SPARKPILOT_HOST_ROOT={self.root}"]
        return ["ip", "netns", "exec", self.netns, "env", *env, *argv]


@dataclass
class Cluster:
    slot: int
    dir: str
    nodes: list[Node] = field(default_factory=list)
    owner: int = field(default_factory=os.getpid)
    fabric: str = "cable"

    # -- names ------------------------------------------------------------------------------
    @property
    def hub(self) -> str:
        return f"spk{self.slot}-hub"

    @property
    def host_if(self) -> str:
        return f"spk{self.slot}-host"

    @property
    def subnet(self) -> str:
        return f"10.77.{self.slot}"

    @property
    def ssh_config(self) -> str:
        return os.path.join(self.dir, "ssh_config")

    @property
    def known_hosts(self) -> str:
        return os.path.join(self.dir, "known_hosts")

    @property
    def key(self) -> str:
        return os.path.join(self.dir, "id_ed25519")

    def env(self) -> dict[str, str]:
        """Environment for a sparkpilot process that talks to this cluster."""
        return {**os.environ, "SPARKPILOT_SSH_CONFIG": self.ssh_config}

    def inventory(self, nodes: list[Node] | None = None, path: str | None = None) -> str:
        """Write an inventory file (CONTRACTS.md) for some nodes; returns its path."""
        import yaml

        nodes = self.nodes if nodes is None else nodes
        data = {"nodes": [{"name": n.name, "ssh": n.ssh_spec, "role": "head" if i == 0 else "worker",
                           **({} if nodefiles.profile(n.profile).get("nm")   # NetworkManager's: not set yet
                              else {"interconnect": list(n.qsfp_ips.values())})}
                          for i, n in enumerate(nodes)]}
        path = path or os.path.join(self.dir, f"inventory-{'-'.join(str(n.index) for n in nodes)}.yaml")
        Path(path).write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    # -- start ------------------------------------------------------------------------------
    @classmethod
    def start(cls, profiles: list[str], *, delay_scale: float | None = None,
              base_dir: str | None = None, keep: bool = False, fabric: str | None = None,
              docker: bool = False) -> "Cluster":
        """Start nodes with these profiles. keep=True: the cluster outlives this process
        (scripts/sim-cluster); otherwise a later start reclaims it once this process is gone.
        docker=True: a real dockerd per node with the simulated cluster's images (images.py builds
        them once per machine; the first time takes minutes)."""
        why = missing_requirements() or (missing_docker() if docker else None)
        if why:
            raise SimError(why)
        template = None
        if docker:
            from . import images

            template = str(images.node_template())
        for p in profiles:
            nodefiles.profile(p)  # unknown profile -> error before anything is created
        if delay_scale is None:
            delay_scale = float(os.environ.get("SPARKPILOT_SIM_DELAY_SCALE", "1"))
        slot = _claim_slot()
        fabric = fabric or ("cable" if len(profiles) <= 2 else "switch")
        if fabric not in ("cable", "switch", "ring"):
            raise SimError(f"fabric is `cable`, `switch` or `ring`, not `{fabric}`")
        if any(nodefiles.profile(p).get("nm") for p in profiles):
            from . import nm

            if nm.missing():
                raise SimError(nm.missing())
        cluster = cls(slot=slot, dir=tempfile.mkdtemp(prefix=f"spk{slot}-", dir=base_dir),
                      owner=0 if keep else os.getpid(), fabric=fabric)
        os.chmod(cluster.dir, 0o755)
        try:
            cluster._save()
            cluster._create(profiles, delay_scale, template)
            cluster._save()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _create(self, profiles: list[str], delay_scale: float, template: str | None = None) -> None:
        n = len(profiles)
        if not 1 <= n <= 250:
            raise SimError("between 1 and 250 nodes")
        for i, prof in enumerate(profiles):
            peer = i ^ 1 if (i ^ 1) < n and self.fabric == "cable" else None
            if self.fabric == "ring":   # cage 1 of node i cabled to cage 0 of node i+1
                peer = (i + 1) % n
            qsfp = {"enp1s0f1np1": f"192.168.100.{10 + i}", "enP2p1s0f1np1": f"192.168.101.{10 + i}"}
            self.nodes.append(Node(index=i, name=f"spk{self.slot}-{i}", netns=f"spk{self.slot}-{i}",
                                   profile=prof, mgmt_ip=f"{self.subnet}.{i + 1}", qsfp_ips=qsfp,
                                   peer=peer, dir=os.path.join(self.dir, f"node-{i}"),
                                   up=not nodefiles.profile(prof).get("down", False)))
            self.nodes[-1].has_docker = template is not None and self.nodes[-1].up
        # the cluster's client key, node host keys and files (stand-ins, recorded trees)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sparkpilot-sim", "-f", self.key)
        pub = Path(self.key + ".pub").read_text()
        known = []
        for node in self.nodes:
            nodefiles.build(node, delay_scale=delay_scale, authorized_key=pub)
            hostpub = Path(node.dir, "ssh_host_ed25519_key.pub").read_text().split()
            known.append(f"{node.mgmt_ip} {hostpub[0]} {hostpub[1]}")
        Path(self.known_hosts).write_text("\n".join(known) + "\n")
        Path(self.ssh_config).write_text(self._ssh_config_text())
        self._network()
        self._start_sshds()
        managed = [n for n in self.nodes if n.up and nodefiles.profile(n.profile).get("nm")]
        if managed:
            from . import nm

            nm.start(managed)
        for node in self.nodes:
            if node.has_docker:
                NodeDocker(node, node.hostname, template).start()

    def _ssh_config_text(self) -> str:
        lines = []
        for node in self.nodes:
            lines += [f"Host {node.name}", f"  HostName {node.mgmt_ip}", ""]
        lines += [f"Host {self.subnet}.* spk{self.slot}-*",
                  "  User root",
                  f"  IdentityFile {self.key}",
                  "  IdentitiesOnly yes",
                  f"  UserKnownHostsFile {self.known_hosts}",
                  "  GlobalKnownHostsFile /dev/null",
                  "  StrictHostKeyChecking yes",
                  ""]
        return "\n".join(lines)

    def _network(self) -> None:
        s, hub = self.slot, self.hub
        root = [f"netns add {hub}"] + [f"netns add {node.netns}" for node in self.nodes]
        ip_batch(root)
        # the bridge in the hub namespace, the root namespace's port on it
        links = [f"link add {self.host_if} type veth peer name br-host netns {hub}"]
        for node in self.nodes:
            i = node.index
            links.append(f"link add enP7s7 netns {node.netns} address 30:c5:99:{s:02x}:{i:02x}:8a "
                         f"type veth peer name h{i} netns {hub}")
            for port, mac in (("enp1s0f0np0", "8b"), ("enP2p1s0f0np0", "8f")):  # no cable: no carrier
                if self.fabric == "ring":
                    break   # cabled to the previous node (below)
                links.append(f"link add {port} netns {node.netns} address 30:c5:99:{s:02x}:{i:02x}:{mac} "
                             f"type veth peer name x{i}{mac} netns {hub}")
            if self.fabric == "ring" and node.peer is not None:   # both logical ports of cage 1 -> next node's cage 0
                peer = self.nodes[node.peer]
                for (port, mac), (pport, pmac) in ((("enp1s0f1np1", "8c"), ("enp1s0f0np0", "8b")),
                                                   (("enP2p1s0f1np1", "90"), ("enP2p1s0f0np0", "8f"))):
                    links.append(f"link add {port} netns {node.netns} address 30:c5:99:{s:02x}:{i:02x}:{mac} "
                                 f"type veth peer name {pport} netns {peer.netns} "
                                 f"address 30:c5:99:{s:02x}:{peer.index:02x}:{pmac}")
            elif node.peer is None:  # on the switch (or the odd one out, on a port of its own)
                for port, mac, rail in (("enp1s0f1np1", "8c", "a"), ("enP2p1s0f1np1", "90", "b")):
                    links.append(f"link add {port} netns {node.netns} address 30:c5:99:{s:02x}:{i:02x}:{mac} "
                                 f"mtu 9000 type veth peer name q{i}{rail} netns {hub} mtu 9000")
            elif node.peer > i:
                peer = self.nodes[node.peer]
                for port, mac in (("enp1s0f1np1", "8c"), ("enP2p1s0f1np1", "90")):
                    links.append(f"link add {port} netns {node.netns} address 30:c5:99:{s:02x}:{i:02x}:{mac} "
                                 f"type veth peer name {port} netns {peer.netns} "
                                 f"address 30:c5:99:{s:02x}:{peer.index:02x}:{mac}")
        ip_batch(links)
        ip_batch([f"addr add {self.subnet}.254/24 dev {self.host_if}", f"link set {self.host_if} up"])
        hub_cmds = ["link add br0 type bridge", "link set br0 up", "link set br-host master br0",
                    "link set br-host up", "link set lo up"]
        hub_cmds += [f"link set h{node.index} master br0" for node in self.nodes]
        hub_cmds += [f"link set h{node.index} up" for node in self.nodes]
        switched = [node.index for node in self.nodes if node.peer is None]
        for rail in ("a", "b"):  # the QSFP switch: one bridge per rail, jumbo frames
            hub_cmds += [f"link add qsfp-{rail} type bridge", f"link set qsfp-{rail} up"]
            hub_cmds += [f"link set q{i}{rail} master qsfp-{rail}" for i in switched]
            hub_cmds += [f"link set q{i}{rail} up" for i in switched]
            hub_cmds.append(f"link set qsfp-{rail} mtu 9000")
        ip_batch(hub_cmds, hub)
        for node in self.nodes:
            prof = nodefiles.profile(node.profile)
            mtus = prof.get("mtu", {})
            cmds = ["link set lo up", f"addr add {node.mgmt_ip}/24 dev enP7s7"]
            if node.up:
                cmds.append("link set enP7s7 up")
            for port in ("enp1s0f0np0", "enP2p1s0f0np0"):
                if node.up:
                    cmds.append(f"link set {port} up")  # administratively up, no carrier (peer down)
            for port, addr in node.qsfp_ips.items():
                cmds.append(f"link set {port} mtu {mtus.get(port, 9000)}")
                if not prof.get("qsfp_unconfigured"):
                    cmds.append(f"addr add {addr}/24 dev {port}")
                if node.up:  # a host that is off answers on no port
                    cmds.append(f"link set {port} up")
            ip_batch(cmds, node.netns)

    def _start_sshds(self) -> None:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        procs = []
        for node in self.nodes:
            if not node.up:
                continue
            cfg = os.path.join(node.dir, "sshd_config")
            argv = ["ip", "netns", "exec", node.netns, "unshare", "--uts", "sh", "-c",
                    f'hostname "$1" && exec {SSHD} -f "$2" -E "$3"', "sshd", f"spark-{self.slot}-{node.index}",
                    cfg, os.path.join(node.dir, "sshd.log")]
            procs.append((node, subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                 text=True)))
        for node, proc in procs:  # sshd daemonizes: the foreground process ends at once
            _, err = proc.communicate(timeout=30)
            if proc.returncode != 0:
                raise SimError(f"sshd on {node.name} did not start: {err.strip()}")
        deadline = time.monotonic() + 15
        for node, _ in procs:
            pidfile = Path(node.dir, "sshd.pid")
            while not pidfile.exists() or not pidfile.read_text().strip():
                if time.monotonic() > deadline:
                    log = Path(node.dir, "sshd.log")
                    raise SimError(f"sshd on {node.name} wrote no pid file: "
                                   f"{log.read_text().strip() if log.exists() else ''}")
                time.sleep(0.01)
            node.pid = int(pidfile.read_text().split()[0])

    # -- stop -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Kill everything in the nodes' namespaces, delete them, remove files. Safe to repeat."""
        _teardown(self.slot, [n.netns for n in self.nodes], self.dir)

    def _save(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        state = {"slot": self.slot, "dir": self.dir, "owner": self.owner, "fabric": self.fabric,
                 "nodes": [asdict(n) for n in self.nodes]}
        Path(STATE_DIR, f"{self.slot}.json").write_text(json.dumps(state, indent=1))

    @classmethod
    def load(cls, slot: int) -> "Cluster":
        state = json.loads(Path(STATE_DIR, f"{slot}.json").read_text())
        cluster = cls(slot=state["slot"], dir=state["dir"], owner=state["owner"],
                      fabric=state.get("fabric", "cable"))
        cluster.nodes = [Node(**n) for n in state["nodes"]]
        return cluster

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _netns_list() -> set[str]:
    out = sh("ip", "netns", "list", check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _teardown(slot: int, netns: list[str], directory: str | None) -> None:
    prefix = f"spk{slot}-"
    stop_engines(slot, directory)  # containers first (some live outside the node's namespace)
    names = {n for n in _netns_list() if n.startswith(prefix) or n in netns}
    for name in names:  # every process in a node namespace: sshd, sessions, stand-ins
        pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    if names:  # -force: go on past a namespace someone else removed meanwhile
        sh("ip", "-force", "-batch", "-", input="".join(f"netns del {n}\n" for n in sorted(names)),
           check=False)
    sh("ip", "link", "del", f"spk{slot}-host", check=False)  # normally gone with the hub already
    if directory and os.path.isdir(directory):
        shutil.rmtree(directory, ignore_errors=True)
    try:
        os.unlink(STATE_DIR / f"{slot}.json")
    except FileNotFoundError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _claim_slot() -> int:
    """A free slot: no state file, or one whose owner is dead (its leftovers are removed)."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(STATE_DIR / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = _netns_list()
        free = None
        for slot in range(MAX_SLOTS):  # reclaim every dead owner's slot, then take the first free
            state = STATE_DIR / f"{slot}.json"
            if state.exists():
                try:
                    data = json.loads(state.read_text())
                except ValueError:
                    data = {"owner": -1}
                owner = data.get("owner", -1)
                if owner == 0 or (owner > 0 and _alive(owner)):  # 0: started by hand, kept
                    continue
                _teardown(slot, [], data.get("dir"))
            elif any(n.startswith(f"spk{slot}-") for n in existing):
                _teardown(slot, [], None)
            if free is None:
                free = slot
        if free is not None:
            (STATE_DIR / f"{free}.json").write_text(
                json.dumps({"slot": free, "owner": os.getpid(), "dir": None, "nodes": []}))
            return free
    raise SimError(f"all {MAX_SLOTS} simulated-cluster slots are in use (scripts/sim-cluster stop --all)")


def stop_slot(slot: int) -> None:
    state = STATE_DIR / f"{slot}.json"
    if state.exists():
        Cluster.load(slot).stop()
    else:
        _teardown(slot, [], None)


def running_slots() -> list[int]:
    if not STATE_DIR.is_dir():
        return []
    return sorted(int(p.stem) for p in STATE_DIR.glob("*.json") if p.stem.isdigit())
