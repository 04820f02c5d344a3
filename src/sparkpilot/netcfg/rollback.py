"""Rollback that runs on the host itself, not over the SSH session a change may cut.

Before anything changes, each node gets (under ${SPARKPILOT_HOST_ROOT}/var/lib/sparkpilot/net/STAMP):
  etc/, run/      its NetworkManager connection keyfiles (persistent and in-memory)
  active.txt      UUID:DEVICE of each active connection;  ports.txt  the ports the plan touches
  addr.json, link.json   `ip -j addr` / `ip -j link` before (what undo and the tests compare)
  restore.sh      puts the keyfiles back, reloads NetworkManager, re-activates what was active
  fire.sh         restore once: `mv armed firing` is the lock, so a cancel and a firing never both win
  armed           present while the rollback is pending
and a timer that outlives the session, started with the transport's runner.start_detached (a
transient systemd unit where the host runs systemd, as `netplan try` relies on, else `setsid
nohup`): timer.sh polls `armed` until its deadline, then runs fire.sh.
Cancel = `mv armed cancelled` (refused once fired: the caller then knows the node rolled back;
the timer sees `armed` gone and exits).
"""

from __future__ import annotations

import shlex

from sparkpilot.netcfg.gather import NET_DIR
from sparkpilot.probes import ROOT

KEYFILES = {"etc": "/etc/NetworkManager/system-connections", "run": "/run/NetworkManager/system-connections"}

RESTORE = """\
#!/bin/sh
# sparkpilot net: restore this node's NetworkManager profiles to the snapshot beside this file
d=$(cd "$(dirname "$0")" && pwd)
R="${{SPARKPILOT_HOST_ROOT:-}}"
for k in etc run; do
  case $k in etc) dir="$R{etc}" ;; run) dir="$R{run}" ;; esac
  mkdir -p "$dir"
  rm -f "$dir"/*.nmconnection
  for f in "$d/$k"/*.nmconnection; do [ -e "$f" ] && cp -p "$f" "$dir/"; done
done
nmcli connection reload
while IFS=: read -r uuid dev; do
  [ -n "$dev" ] && nmcli -w 10 connection up uuid "$uuid" ifname "$dev" >/dev/null 2>&1 &
done < "$d/active.txt"
wait
for dev in $(cat "$d/ports.txt"); do
  grep -q ":$dev\\$" "$d/active.txt" || nmcli device disconnect "$dev" >/dev/null 2>&1
done
# settled: no port still running duplicate address detection on its link-local address (5 s at most)
i=0
while [ $i -lt 50 ] && for dev in $(cat "$d/ports.txt"); do ip -6 addr show dev "$dev" 2>/dev/null; done | grep -q tentative; do
  sleep 0.1; i=$((i+1))
done
echo restored
"""

FIRE = """\
#!/bin/sh
d=$(cd "$(dirname "$0")" && pwd)
mv "$d/armed" "$d/firing" 2>/dev/null || exit 0
sh "$d/restore.sh" > "$d/restore.log" 2>&1
echo $? > "$d/restored"
"""

TIMER = """\
#!/bin/sh
d=$(cd "$(dirname "$0")" && pwd)
end=$(( $(date +%s) + {seconds} ))
while [ "$(date +%s)" -lt "$end" ]; do [ -e "$d/armed" ] || exit 0; sleep 0.5; done
exec sh "$d/fire.sh"
"""


def _write(path_expr: str, text: str) -> str:
    """sh that writes text to a file (a quoted heredoc: nothing in it is expanded)."""
    return f"cat > {path_expr} <<'SPARKPILOT_EOF'\n{text}SPARKPILOT_EOF\n"


def snapshot_dir(stamp: str) -> str:
    return f'{ROOT}{NET_DIR}/{stamp}'


def arm_script(stamp: str, seconds: int, ports: list[str]) -> str:
    """Snapshot and write the scripts; the timer is started next with runner.start_detached(timer_argv)."""
    d = f'"$R{NET_DIR}/{stamp}"'
    parts = [
        "set -e",
        f"R={ROOT}",
        f"mkdir -p {d}/etc {d}/run",
        f'for f in "$R{KEYFILES["etc"]}"/*.nmconnection; do [ -e "$f" ] && cp -p "$f" {d}/etc/; done; true',
        f'for f in "$R{KEYFILES["run"]}"/*.nmconnection; do [ -e "$f" ] && cp -p "$f" {d}/run/; done; true',
        f"nmcli -t -f UUID,DEVICE connection show --active > {d}/active.txt",
        f"echo {shlex.quote(' '.join(ports))} > {d}/ports.txt",
        f"ip -j addr show > {d}/addr.json",
        f"ip -j link show > {d}/link.json",
        _write(f"{d}/restore.sh", RESTORE.format(etc=KEYFILES["etc"], run=KEYFILES["run"])).rstrip("\n"),
        _write(f"{d}/fire.sh", FIRE).rstrip("\n"),
        _write(f"{d}/timer.sh", TIMER.format(seconds=int(seconds))).rstrip("\n"),
        f"touch {d}/armed",
        f"echo {stamp} > \"$R{NET_DIR}/last\"",
        "echo armed",
    ]
    return "\n".join(parts) + "\n"


def timer_argv(stamp: str) -> list[str]:
    """What runner.start_detached runs: the timer polling `armed` until its deadline, then fire.sh."""
    return ["sudo", "-n", "sh", "-c", f"exec sh {snapshot_dir(stamp)}/timer.sh"]


def timer_unit(stamp: str) -> str:
    return f"sparkpilot-net-rollback-{stamp}"


def cancel_script(stamp: str) -> str:
    d = f'"$R{NET_DIR}/{stamp}"'
    return (f"R={ROOT}; if mv {d}/armed {d}/cancelled 2>/dev/null; then "
            "echo cancelled; "
            f"else echo fired; fi\n")


def fire_script(stamp: str) -> str:
    """Roll back now (the caller saw the change fail); waits for the restore to finish."""
    d = f'"$R{NET_DIR}/{stamp}"'
    return (f"R={ROOT}; sh {d}/fire.sh; i=0; while [ ! -e {d}/restored ] && [ $i -lt 600 ]; do sleep 0.1; "
            f"i=$((i+1)); done; cat {d}/restored 2>/dev/null || echo pending\n")


def undo_script() -> str:
    """Restore the last snapshot (net undo --apply)."""
    return (f'R={ROOT}; s=$(cat "$R{NET_DIR}/last" 2>/dev/null) || {{ echo "no snapshot"; exit 4; }}; '
            f'sh "$R{NET_DIR}/$s/restore.sh" && echo "$s"\n')


def undo_preview_script() -> str:
    """What undo would restore: "snapshot STAMP", "keyfile etc|run/NAME" and "active UUID:DEVICE" lines."""
    return (f'R={ROOT}; s=$(cat "$R{NET_DIR}/last" 2>/dev/null) || {{ echo "no snapshot"; exit 4; }}; '
            f'd="$R{NET_DIR}/$s"; echo "snapshot $s"; '
            'for k in etc run; do for f in "$d/$k"/*.nmconnection; do [ -e "$f" ] && echo "keyfile $k/${f##*/}"; done; done; '
            'sed "s/^/active /" "$d/active.txt"\n')
