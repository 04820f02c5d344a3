"""One simulated Spark's files: its recorded tree, its stand-in tools, its sshd.

<node dir>/
  root/        what probes read as ${SPARKPILOT_HOST_ROOT}/...: proc/meminfo, etc/os-release,
               proc/sys/kernel/{hostname,osrelease}, etc/netplan/*.yaml, sys/class/thermal/...,
               sys/class/net/<QSFP port>/, sys/class/infiniband/<dev>/ports/1/{gids,gid_attrs/...}
  bin/         stand-ins for the hardware tools: each answers exactly the argvs of the probe table
               (sparkpilot.probes.PROBES) with a recorded real output (tests/sim/data), after a
               realistic delay; any other argv is refused (exit 2), so a drifting probe shows up.
  sshd_config, ssh_host_ed25519_key, authorized_keys, sshd.pid, sshd.log

`ip`, `ping`, `sh`, `timeout` are the real tools: the network state of a node is real.
Profiles (PROFILES) choose, per node, which recording each tool prints and which fault is planted.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

# seconds a tool takes on a real host (multiplied by the cluster's delay scale). apt-mark showhold
# loads the whole apt cache: 1.10-1.15 s measured on this kind of machine (Debian 12, `time apt-mark showhold`).
DELAYS = {"nvidia-smi": 0.35, "dpkg-query": 0.08, "apt-mark": 1.1, "nvidia-ctk": 0.05, "docker": 0.08,
          "ibdev2netdev": 0.12, "nmcli": 0.04, "systemctl": 0.02, "chronyc": 0.02, "timedatectl": 0.04,
          "ethtool": 0.02}

# what a healthy GB10 node prints: probe id (or tree file) -> variant under tests/sim/data/<key>/
HEALTHY = {
    "nvidia-smi": "gb10", "nvidia-smi-perf": "gb10", "gpu-processes": "gb10-desktop", "packages": "gb10",
    "apt-holds": "held",
    "nvidia-ctk": "gb10", "docker": "gb10", "ibdev2netdev": "gb10", "nmcli": "qsfp-nm",
    "services": "nm-only", "chrony": "synced", "timedatectl": "synced",
    "ethtool-i": "gb10", "ethtool-m": "gb10", "ethtool": "gb10-200g",
    "meminfo": "gb10-cold", "os-release": "gb10", "osrelease": "gb10", "netplan": "nm", "thermal": "gb10-idle",
    "monitor-gpu": "gb10-idle", "monitor-apps": "none", "psi": "idle",
}
# profile -> changes to HEALTHY, plus planted faults that are not recordings
PROFILES: dict[str, dict] = {
    "healthy": {},
    "driver-590": {"nvidia-smi": "gb10-590", "nvidia-smi-perf": "gb10-590", "packages": "gb10-590",
                   "apt-holds": "none"},
    "mtu-1500": {"mtu": {"enP2p1s0f1np1": 1500}},
    "gid-4": {"gid_index": 4},
    "unreachable": {"down": True},   # host off: management port down, no sshd
    # netplan rendered for networkd, networkd not running: the file's addresses and MTU never
    # reach the ports (the reference's silent no-op), so they stay at 1500 without addresses
    "netplan-networkd": {"netplan": "networkd", "services": "nm-only", "qsfp_unconfigured": True,
                         "mtu": {"enp1s0f1np1": 1500, "enP2p1s0f1np1": 1500}},
    "warm-cache": {"meminfo": "gb10-warm"},
    "hot-gpu": {"nvidia-smi": "gb10-hot", "nvidia-smi-perf": "gb10-hot", "thermal": "gb10-hot",
                "monitor-gpu": "gb10-hot"},
    # a real NetworkManager (tests/sim/nm.py) owns the QSFP ports: they start on its generic DHCP
    # profiles, without addresses, at MTU 1500 (what DGX OS leaves); `net` configures them
    "nm-dhcp": {"nm": True, "qsfp_unconfigured": True, "netplan": "dgx-default",
                "mtu": {"enp1s0f1np1": 1500, "enP2p1s0f1np1": 1500}},
    "nm-ring": {"nm": True, "qsfp_unconfigured": True, "ibdev2netdev": "gb10-ring", "netplan": "dgx-default",
                "mtu": {"enp1s0f1np1": 1500, "enP2p1s0f1np1": 1500}},
    "nm-100g": {"nm": True, "qsfp_unconfigured": True, "ethtool": "gb10-100g", "netplan": "dgx-default",
                "mtu": {"enp1s0f1np1": 1500, "enP2p1s0f1np1": 1500}},
}

# probe id -> the tool that answers it (argvs come from sparkpilot.probes.PROBES)
TOOL_PROBES = ("nvidia-smi", "nvidia-smi-perf", "gpu-processes", "packages", "apt-holds", "nvidia-ctk", "docker",
               "ibdev2netdev", "nmcli", "services", "chrony", "timedatectl")
TREE_FILES = {"meminfo": "proc/meminfo", "os-release": "etc/os-release",
              "osrelease": "proc/sys/kernel/osrelease", "psi": "proc/pressure/memory"}
QSFP_PORTS = ("enp1s0f0np0", "enp1s0f1np1", "enP2p1s0f0np0", "enP2p1s0f1np1")
ROCE_DEVS = {"rocep1s0f0": "enp1s0f0np0", "rocep1s0f1": "enp1s0f1np1",
             "roceP2p1s0f0": "enP2p1s0f0np0", "roceP2p1s0f1": "enP2p1s0f1np1"}


def profile(name: str) -> dict:
    if name not in PROFILES:
        raise ValueError(f"unknown simulated-node profile `{name}` (known: {', '.join(PROFILES)})")
    return PROFILES[name]


def choices(name: str) -> dict:
    """HEALTHY with the profile's recordings swapped in."""
    merged = dict(HEALTHY)
    merged.update({k: v for k, v in profile(name).items() if k in HEALTHY})
    return merged


def recording(key: str, variant: str) -> Path | None:
    path = DATA / key / f"{variant}.txt"
    return path if path.exists() else None


def _rc(path: Path) -> int:
    rc_file = path.with_suffix(".rc")
    return int(rc_file.read_text().strip()) if rc_file.exists() else 0


def _probe_argvs() -> dict[str, tuple[str, ...]]:
    from sparkpilot.probes import PROBES

    from sparkpilot.monitor.sampler import TOOL_ARGVS   # what `sparkpilot watch` runs (1 s interval)

    argvs = {pid: PROBES[pid].argv for pid in TOOL_PROBES if pid in PROBES}
    argvs.update(TOOL_ARGVS)
    return argvs


def _standin(tool: str, cases: list[tuple[str, Path, int]], delay: float) -> str:
    """A POSIX sh stand-in: `case "$*"` over the exact argument strings (recording of tests/sim/data)."""
    lines = ["#!/bin/sh",
             f"# simulated Spark: stand-in for `{tool}`, prints recorded real outputs (tests/sim/data)",
             'case "$*" in']
    for args, path, rc in cases:
        pattern = shlex.quote(args) if args else "''"
        lines.append(f"  {pattern})")
        if delay > 0:
            lines.append(f"    sleep {delay:.3f}")
        # the recording itself, printed by the shell's builtin printf: one process fewer per call
        lines += [f"    printf '%s' {shlex.quote(path.read_text())}", f"    exit {rc} ;;"]
    lines += ["esac",
              f'echo "{tool}: simulated node has no recording for: $*" >&2',
              "exit 2", ""]
    return "\n".join(lines)


def standin_binary() -> str | None:
    """standin.c built once (cached by its text under the temp dir); None without a C compiler,
    then the stand-ins are the sh scripts of `_standin` (same answers, one shell and one `sleep`
    process more per call). Either way a stand-in answers after the tool's realistic delay; the
    binary only costs the shared cores less (the simulated nodes run on sparkpilot's machine)."""
    import hashlib
    import shutil
    import tempfile

    src = Path(__file__).resolve().parent / "standin.c"
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc or not src.exists() or os.environ.get("SPARKPILOT_SIM_SH_STANDINS"):
        return None
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    exe = Path(tempfile.gettempdir(), f"sparkpilot-sim-standin-{digest}")
    if exe.exists():
        return str(exe)
    tmp = f"{exe}.{os.getpid()}"
    proc = subprocess.run([cc, "-O2", "-o", tmp, str(src)], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    os.replace(tmp, exe)   # atomic: clusters started at once share one build
    return str(exe)


def _install_binary(exe: str, dest: Path, table: Path, cases: list[tuple[str, Path, int]], delay: float) -> None:
    lines = [f"{delay:.3f}"]
    for args, path, rc in cases:
        lines += [args, str(rc), str(path)]
    _write(table, "\n".join(lines) + "\n")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(exe, dest)   # the tool's name is the link's: the binary finds its table by it
    except OSError:
        import shutil

        shutil.copy2(exe, dest)


def _write(path: Path, text: str, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        os.chmod(path, mode)


def build_bin(node, pick: dict, delay_scale: float) -> None:
    bin_dir = Path(node.dir, "bin")
    bin_dir.mkdir(parents=True, exist_ok=True)
    by_tool: dict[str, list[tuple[str, Path, int]]] = {}
    for pid, argv in _probe_argvs().items():
        if argv[0] == "docker" and getattr(node, "has_docker", False):
            continue  # the node runs a real dockerd: the real client answers
        cases = by_tool.setdefault(argv[0], [])  # a tool without recordings refuses every argv,
        path = recording(pid, pick[pid])        # rather than the machine's own tool answering
        if path is not None:
            cases.append((" ".join(argv[1:]), path, _rc(path)))
    for port in QSFP_PORTS:  # ethtool -i / -m per QSFP port
        for flag, key in (("-i", "ethtool-i"), ("-m", "ethtool-m")):
            path = recording(key, f"{pick[key]}-{port}")
            if path is not None:
                by_tool.setdefault("ethtool", []).append((f"{flag} {port}", path, _rc(path)))
        speed = recording("ethtool", pick["ethtool"])   # `ethtool PORT` (net check's link tier)
        if speed is not None:
            own = Path(node.dir, "rec", f"ethtool-{port}.txt")
            _write(own, speed.read_text().replace("PORT", port))
            by_tool.setdefault("ethtool", []).append((port, own, 0))
    exe = standin_binary()
    for tool, cases in by_tool.items():
        delay = DELAYS.get(tool, 0.0) * delay_scale
        if exe and not any("\n" in args for args, _, _ in cases):
            _install_binary(exe, bin_dir / tool, Path(node.dir, "standin", tool), cases, delay)
        else:
            _write(bin_dir / tool, _standin(tool, cases, delay), 0o755)
    # privileged probes run `sudo -n CMD`: the node's user is root, so sudo just runs it
    _write(bin_dir / "sudo", '#!/bin/sh\n# simulated Spark: passwordless sudo\n'
           '[ "$1" = "-n" ] && shift\nexec "$@"\n', 0o755)


def _gid_rows(node, gid_index: int, unconfigured: bool = False) -> list[tuple[str, str, int, str, str, str]]:
    """(dev, port, index, gid, type, ndev) for each RoCE device with an address.

    Reconstructed (CONTRACTS.md, recordings): mlx5 puts the port's default link-local GID at 0
    (RoCE v1) and 1 (RoCE v2) and each IPv4 address as ::ffff:a.b.c.d at the next free index, v1
    then v2 -- RoCEv2 + IPv4 at index 3 as in the reference's `show_gids`. For index 4 (seen on one
    node of public pairs) an IPv6 address takes index 2 first and its v2 entry is gone.
    """
    rows = []
    for dev, netdev in ROCE_DEVS.items():
        mac = _mac(node, netdev)
        b = [int(x, 16) for x in mac.split(":")]
        eui = f"{b[0] ^ 2:02x}{b[1]:02x}:{b[2]:02x}ff:fe{b[3]:02x}:{b[4]:02x}{b[5]:02x}"
        ll = f"fe80:0000:0000:0000:{eui}"
        rows += [(dev, "1", 0, ll, "IB/RoCE v1", netdev), (dev, "1", 1, ll, "RoCE v2", netdev)]
        addr = None if unconfigured else node.qsfp_ips.get(netdev)
        if not addr:
            continue
        o = [int(x) for x in addr.split(".")]
        v4 = f"0000:0000:0000:0000:0000:ffff:{o[0]:02x}{o[1]:02x}:{o[2]:02x}{o[3]:02x}"
        first = 2
        if gid_index == 4:
            rows.append((dev, "1", 2, f"fd00:0000:0000:0000:{eui}", "IB/RoCE v1", netdev))
            first = 3
        rows += [(dev, "1", first, v4, "IB/RoCE v1", netdev), (dev, "1", first + 1, v4, "RoCE v2", netdev)]
    return rows


def _mac(node, port: str) -> str:
    slot = int(node.netns[3:].split("-")[0])
    last = {"enp1s0f0np0": "8b", "enp1s0f1np1": "8c", "enP2p1s0f0np0": "8f", "enP2p1s0f1np1": "90"}[port]
    return f"30:c5:99:{slot:02x}:{node.index:02x}:{last}"


def build_tree(node, pick: dict, prof: dict) -> None:
    root = Path(node.dir, "root")
    for key, rel in TREE_FILES.items():
        path = recording(key, pick[key])
        if path is not None:
            _write(root / rel, path.read_text())
    _write(root / "proc/sys/kernel/hostname", node.name.replace("spk", "spark-", 1) + "\n")
    netplan = DATA / "netplan" / pick["netplan"]
    for path in sorted(netplan.glob("*.yaml")):  # the QSFP ports as this node has them configured
        text = path.read_text()
        for port, addr in node.qsfp_ips.items():
            text = text.replace("{%s}" % port, addr)
        _write(root / "etc/netplan" / path.name, text)
    thermal = recording("thermal", pick["thermal"])
    if thermal is not None:  # lines "zone<TAB>type<TAB>millidegrees"
        for line in thermal.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                zone, ztype, temp = line.split("\t")
                _write(root / f"sys/class/thermal/{zone}/type", ztype + "\n")
                _write(root / f"sys/class/thermal/{zone}/temp", temp + "\n")
    for port in QSFP_PORTS:
        (root / "sys/class/net" / port).mkdir(parents=True, exist_ok=True)
    for dev, port, idx, gid, gtype, ndev in _gid_rows(node, prof.get("gid_index", 3), prof.get("qsfp_unconfigured", False)):
        base = root / "sys/class/infiniband" / dev / "ports" / port
        _write(base / "gids" / str(idx), gid + "\n")
        _write(base / "gid_attrs/types" / str(idx), gtype + "\n")
        _write(base / "gid_attrs/ndevs" / str(idx), ndev + "\n")
    for dev in ROCE_DEVS:  # the rest of the table is empty, as in sysfs (no type, no ndev)
        gids = root / "sys/class/infiniband" / dev / "ports/1/gids"
        gids.mkdir(parents=True, exist_ok=True)
        for idx in range(8):
            if not (gids / str(idx)).exists():
                _write(gids / str(idx), "0000:0000:0000:0000:0000:0000:0000:0000\n")


def sshd_config(node) -> str:
    d = node.dir
    bus = f" DBUS_SYSTEM_BUS_ADDRESS=unix:path={d}/root/run/dbus/system_bus_socket" if profile(node.profile).get("nm") else ""
    return "\n".join([
        f"ListenAddress {node.mgmt_ip}", "Port 22",
        f"HostKey {d}/ssh_host_ed25519_key", f"PidFile {d}/sshd.pid",
        f"AuthorizedKeysFile {d}/authorized_keys",
        "AllowUsers root", "PermitRootLogin prohibit-password", "PubkeyAuthentication yes",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
        "StrictModes no", "PrintMotd no", "PrintLastLog no", "LogLevel ERROR",
        # HOME: the node's own (empty) home, so the machine's ~/.bashrc does not run per command
        f"SetEnv SPARKPILOT_HOST_ROOT={d}/root HOME={d}/home DOCKER_HOST=unix://{d}/docker/docker.sock "
        f"PATH={d}/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin{bus}",
        "",
    ])


def build(node, *, delay_scale: float, authorized_key: str) -> None:
    prof, pick = profile(node.profile), choices(node.profile)
    os.makedirs(node.dir, mode=0o755)
    build_bin(node, pick, delay_scale)
    build_tree(node, pick, prof)
    Path(node.dir, "home").mkdir(mode=0o700)
    _write(Path(node.dir, "authorized_keys"), authorized_key, 0o600)
    _write(Path(node.dir, "sshd_config"), sshd_config(node), 0o600)
    if prof.get("nm"):  # a real NetworkManager and the RDMA stand-ins (started by the cluster)
        from . import nm, rdma

        nm.prepare(node)
        rdma.install(node)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", node.name,
                    "-f", os.path.join(node.dir, "ssh_host_ed25519_key")], check=True)
