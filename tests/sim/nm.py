"""A real NetworkManager per simulated Spark (profiles with "nm": True), for `sparkpilot net`.

Each node's NetworkManager (Debian's network-manager) runs confined to the node:
  - its network namespace (`ip netns exec`), so it sees and configures only the node's ports;
  - a private mount namespace where /sys is read-only (NetworkManager then runs without udev, as
    in a container), /run is <node>/root/run, /etc/NetworkManager is <node>/root/etc/NetworkManager
    and /var/lib/NetworkManager is <node>/nm-state;
  - its own dbus-daemon (system bus) at <node>/root/run/dbus/system_bus_socket. The node's sshd
    sets DBUS_SYSTEM_BUS_ADDRESS to it, so `nmcli` in an ssh session talks to this node's daemon.
Keyfile plugin only. The management port enP7s7 is unmanaged (the session's link stays put); the
QSFP ports start without a profile, so NetworkManager gives each its generic DHCP profile
("Wired connection N", in /run), as DGX OS leaves them. Paths as a real host has them, under
${SPARKPILOT_HOST_ROOT}: etc/NetworkManager/system-connections and run/NetworkManager/system-connections.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

NM = "/usr/sbin/NetworkManager"

NM_CONF = """\
# simulated Spark: NetworkManager confined to the node (tests/sim/nm.py)
[main]
plugins=keyfile
auth-polkit=false
dhcp=internal

[keyfile]
unmanaged-devices=interface-name:enP7s7;interface-name:lo

[logging]
level=INFO
"""

DBUS_CONF = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- simulated Spark: the node's own system bus (tests/sim/nm.py) -->
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
"""

# in the node's new mount namespace: make mounts private, confine /run, /sys, NM's dirs; then
# start the bus and NetworkManager (pid 1 of nothing: both are children of this sh)
START = r"""
set -e
D="$1"
mount --make-rprivate /
mount -o remount,ro,bind /sys 2>/dev/null || mount -o remount,ro /sys
mount --bind "$D/root/run" /run
mount --bind "$D/root/etc/NetworkManager" /etc/NetworkManager
mount --bind "$D/nm-state" /var/lib/NetworkManager
dbus-daemon --config-file="$D/dbus.conf" --nofork --nopidfile --nosyslog &
i=0; while [ ! -S /run/dbus/system_bus_socket ] && [ $i -lt 200 ]; do sleep 0.02; i=$((i+1)); done
exec NetworkManager --no-daemon --config="$D/root/etc/NetworkManager/NetworkManager.conf"
"""


def missing() -> str | None:
    for tool in (NM, "/usr/bin/nmcli", "/usr/bin/dbus-daemon"):
        if not os.access(tool, os.X_OK):
            return f"{tool} is missing (apt-get install network-manager dbus-daemon)"
    return None


def socket(node) -> str:
    return os.path.join(node.dir, "root", "run", "dbus", "system_bus_socket")


def bus_env(node) -> dict[str, str]:
    return {"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={socket(node)}"}


def prepare(node) -> None:
    """The node's NetworkManager files (before its sshd starts)."""
    root = Path(node.dir, "root")
    for d in ("run/dbus", "run/NetworkManager", "etc/NetworkManager/system-connections",
              "etc/NetworkManager/conf.d"):
        (root / d).mkdir(parents=True, exist_ok=True)
    Path(node.dir, "nm-state").mkdir(exist_ok=True)
    (root / "etc/NetworkManager/NetworkManager.conf").write_text(NM_CONF)
    Path(node.dir, "dbus.conf").write_text(DBUS_CONF.format(socket="/run/dbus/system_bus_socket"))
    Path(node.dir, "nm-start.sh").write_text(START)
    bin_dir = Path(node.dir, "bin")
    stale = bin_dir / "nmcli"   # the real nmcli answers on this node, not a recording
    if stale.exists() or stale.is_symlink():
        stale.unlink()


def start(nodes: list) -> None:
    """Start each node's bus and NetworkManager; wait until every one answers on its bus."""
    for node in nodes:
        log = open(os.path.join(node.dir, "nm.log"), "w")  # the daemon writes to it after we close ours
        subprocess.Popen(["ip", "netns", "exec", node.netns, "unshare", "--mount", "sh", "-c", START,
                          "nm-start", node.dir], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
    deadline = time.monotonic() + 30
    for node in nodes:
        while True:
            proc = nmcli(node, "-t", "-f", "RUNNING", "general", check=False)
            if proc.returncode == 0 and "running" in proc.stdout:
                break
            if time.monotonic() > deadline:
                tail = Path(node.dir, "nm.log").read_text()[-400:]
                raise RuntimeError(f"NetworkManager on {node.name} did not answer: {tail}")
            time.sleep(0.05)


def nmcli(node, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    """nmcli on this node's bus, inside its network namespace (test setup and assertions)."""
    env = {**os.environ, **bus_env(node)}
    proc = subprocess.run(["ip", "netns", "exec", node.netns, shutil.which("nmcli") or "nmcli", *args],
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"nmcli {' '.join(args)} on {node.name}: {proc.stderr.strip()}")
    return proc


def keyfiles(node) -> dict[str, str]:
    """Every connection keyfile of the node (persistent and in-memory) -> its text."""
    out = {}
    root = Path(node.dir, "root")
    for sub in ("etc/NetworkManager/system-connections", "run/NetworkManager/system-connections"):
        d = root / sub
        for f in sorted(d.glob("*.nmconnection")) if d.is_dir() else []:
            out[f"{sub}/{f.name}"] = f.read_text()
    return out


def wait_settled(node, ports: list[str], timeout: float = 20) -> None:
    """Until none of these ports is still activating (connecting / deactivating) and no address of
    the node is still tentative (duplicate address detection, about a second after a port comes up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = nmcli(node, "-t", "-f", "DEVICE,STATE", "device", "status", check=False).stdout
        states = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        dad = subprocess.run(["ip", "-n", node.netns, "-6", "addr", "show", "tentative"], capture_output=True,
                             text=True, check=False).stdout
        if all(not states.get(p, "").startswith(("connecting", "deactivating")) for p in ports) and not dad.strip():
            return
        time.sleep(0.1)
