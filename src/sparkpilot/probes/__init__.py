"""Probes: one command on a host and a pure parser of its output.

A probe is (id, argv, parse). `parse(text) -> dataclass` is pure and never runs anything; the
fixtures in tests/data/probes/<probe-id>/*.json are real recorded outputs of `argv`.

THE PROBE TABLE (every command doctor and capture run on a host; the simulated cluster's stand-ins
must answer exactly these argvs):

Files are read with the path prefixed by `${SPARKPILOT_HOST_ROOT:-}` (empty on a real host), so a
simulated node can point it at its own recorded tree while the code stays the one that runs on a
Spark. Commands are run by name from the PATH. `sudo -n` marks a privileged probe: refused ->
unknown "needs passwordless sudo for X", never a prompt.

| id              | argv                                                                  |
|-----------------|-----------------------------------------------------------------------|
| hostname        | sh -c 'cat "${SPARKPILOT_HOST_ROOT:-}/proc/sys/kernel/hostname"'     |
| nvidia-smi      | nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,memory.used,temperature.gpu,power.draw,pstate --format=csv |
| nvidia-smi-perf | nvidia-smi -q -d PERFORMANCE   (driver/CUDA version, clock event reasons) |
| gpu-processes   | nvidia-smi   (the plain table: its Processes section, what holds the GPU) |
| meminfo         | sh -c 'cat "${SPARKPILOT_HOST_ROOT:-}/proc/meminfo"'                  |
| os-release      | sh -c 'cat "${SPARKPILOT_HOST_ROOT:-}/etc/os-release"'                |
| kernel          | sh -c 'cat "${SPARKPILOT_HOST_ROOT:-}/proc/sys/kernel/osrelease"'    |
| packages        | dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n' nvidia-driver-* nvidia-dkms-* nvidia-utils-* nvidia-container-toolkit docker-ce |
| apt-holds       | apt-mark showhold                                                     |
| nvidia-ctk      | nvidia-ctk --version                                                  |
| docker          | docker version --format '{{json .}}'                                  |
| ibdev2netdev    | ibdev2netdev                                                          |
| gids            | sh -c SCRIPT: the show_gids table from ${ROOT}/sys/class/infiniband/*/ports/*/gids/* with gid_attrs/types and gid_attrs/ndevs |
| ip-addr         | ip -j addr show                                                       |
| nmcli           | nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device status                |
| netplan         | sh -c SCRIPT: each ${ROOT}/etc/netplan/*.yaml as "# file: PATH" + its text (sudo -n cat when unreadable) |
| services        | systemctl is-active systemd-networkd NetworkManager                  |
| ethtool         | sh -c SCRIPT: for each ${ROOT}/sys/class/net/en*np*: "## NAME" + `ethtool -i NAME` |
| ethtool-module  | sh -c SCRIPT: for each ${ROOT}/sys/class/net/en*np*: "## NAME" + `sudo -n ethtool -m NAME` |
| chrony          | chronyc tracking                                                      |
| clock           | date +%s.%N   (the host's clock, compared with this machine's between nodes) |
| timedatectl     | timedatectl show                                                      |
| thermal         | sh -c SCRIPT: "ZONE<TAB>TYPE<TAB>TEMP" for ${ROOT}/sys/class/thermal/thermal_zone* |
| tegrastats      | sh -c 'sudo -n timeout 3 tegrastats --interval 1000 | head -n 1'  (when tegrastats exists) |
| memory-holders  | sh -c 'ps -eo pid=,rss=,comm= --sort=-rss | head -n 5'  (what holds the memory of a busy host) |
Dynamic (argv depends on facts): image-ray `sh -c 'docker image inspect IMAGE || echo no-image; docker run --rm
--entrypoint python3 IMAGE -c "import ray" ...'` (whether the image has Ray, where it is on the host),
image-cuda `docker image inspect --format '{{json .Config.Env}}' IMAGE`,
ping `ping -M do -s MTU-28 -c 1 -i 0.2 -w 2 ADDRESS`: a packet every 0.2 s until the first reply, 2 s at most
(sparkpilot/facts/pings.py: all pairs up to 4 nodes, else a ring plus head <-> every node) (from each node to each peer interconnect address).
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from typing import Any, Callable

ROOT = '"${SPARKPILOT_HOST_ROOT:-}"'
NETDEV_GLOB = ROOT + "/sys/class/net/en*np*"


def read_file(path: str) -> list[str]:
    """argv that prints a host file, honouring SPARKPILOT_HOST_ROOT."""
    return ["sh", "-c", f"cat {ROOT}{path}"]


_GIDS_AWK = (
    'function hx(s,  i,c,v){v=0;for(i=1;i<=length(s);i++){c=index("0123456789abcdef",tolower(substr(s,i,1)));v=v*16+c-1};return v}'
    '{i=index($0,":");path=substr($0,1,i-1);val=substr($0,i+1);n=split(path,a,"/");'
    'w=a[n-1];if(w=="gids"){d=a[n-4];p=a[n-2]}else{d=a[n-5];p=a[n-3]};k=d SUBSEP p SUBSEP a[n];'
    'if(w=="gids")g[k]=val;else if(w=="types")t[k]=val;else if(w=="ndevs")nd[k]=val}'
    'END{for(k in g){x=g[k];if(x=="0000:0000:0000:0000:0000:0000:0000:0000")continue;split(k,f,SUBSEP);'
    'v=(t[k]~/[vV]2/)?"v2":"v1";ip="";if(substr(x,1,30)=="0000:0000:0000:0000:0000:ffff:"){h=substr(x,31);'
    'ip=sprintf("%d.%d.%d.%d",hx(substr(h,1,2)),hx(substr(h,3,2)),hx(substr(h,6,2)),hx(substr(h,8,2)))}'
    'printf "%s\\t%s\\t%s\\t%s\\t\\t%s  \\t%s\\t%s\\n",f[1],f[2],f[3],x,ip,v,nd[k]}}'
)
# one grep, one awk, one sort for every device and port (process starts are what a host pays for)
_GIDS = (
    'r=' + ROOT + '/sys/class/infiniband; printf "DEV\\tPORT\\tINDEX\\tGID\\t\\t\\t\\t\\tIPv4  \\t\\tVER\\tDEV\\n"; '
    '[ -d "$r" ] || exit 0; '
    'grep -H "" "$r"/*/ports/*/gids/* "$r"/*/ports/*/gid_attrs/types/* "$r"/*/ports/*/gid_attrs/ndevs/* 2>/dev/null '
    "| awk '" + _GIDS_AWK + "' | sort -t \"$(printf '\\t')\" -k1,1 -k2,2n -k3,3n"
)
_NETPLAN = (
    'for f in ' + ROOT + '/etc/netplan/*.yaml; do [ -e "$f" ] || continue; '
    'echo "# file: ${f#${SPARKPILOT_HOST_ROOT:-}}"; '
    'cat "$f" 2>/dev/null || sudo -n cat "$f" 2>/dev/null || echo "# unreadable: ${f#${SPARKPILOT_HOST_ROOT:-}}"; done'
)
_ETHTOOL = ('for d in ' + NETDEV_GLOB + '; do [ -e "$d" ] || continue; n=${d##*/}; '
            'echo "## $n"; ethtool -i "$n" 2>&1; done')
_ETHTOOL_M = ('for d in ' + NETDEV_GLOB + '; do [ -e "$d" ] || continue; n=${d##*/}; '
              'echo "## $n"; sudo -n ethtool -m "$n" 2>&1; done')
THERMAL_SCRIPT = ('r=' + ROOT + '/sys/class/thermal; grep -H "" "$r"/thermal_zone*/type "$r"/thermal_zone*/temp 2>/dev/null '
            '| awk \'{i=index($0,":");p=substr($0,1,i-1);v=substr($0,i+1);n=split(p,a,"/");z=a[n-1];'
            'if(a[n]=="type")t[z]=v;else c[z]=v}END{for(z in c)printf "%s\\t%s\\t%s\\n",z,t[z],c[z]}\' | sort -V')
_TEGRASTATS = ('command -v tegrastats >/dev/null 2>&1 || { echo "tegrastats: command not found" >&2; exit 127; }; '
               'sudo -n timeout 3 tegrastats --interval 1000 | head -n 1')


@dataclass(frozen=True)
class Probe:
    id: str
    argv: tuple[str, ...]
    parser: str              # "module:function" under sparkpilot.probes, imported when needed
    tool: str                # what the user must have, for "not installed" reasons
    privileged: bool = False
    timeout: float | None = None
    ok_rc: tuple[int, ...] = (0,)   # exit codes that are a normal answer (dpkg-query 1: some pattern unmatched)

    def parse(self, text: str) -> Any:
        import importlib

        module, func = self.parser.split(":")
        return getattr(importlib.import_module(f"sparkpilot.probes.{module}"), func)(text)


def _p(pid: str, argv: list[str], parser: str, tool: str, **kw: Any) -> Probe:
    return Probe(pid, tuple(argv), parser, tool, **kw)


PROBES: dict[str, Probe] = {p.id: p for p in [
    _p("hostname", read_file("/proc/sys/kernel/hostname"), "system:parse_hostname", "/proc/sys/kernel/hostname"),
    _p("nvidia-smi", ["nvidia-smi", "--query-gpu=name,driver_version,compute_cap,memory.total,memory.used,"
                      "temperature.gpu,power.draw,pstate", "--format=csv"], "nvidia_smi:parse_query", "nvidia-smi"),
    _p("nvidia-smi-perf", ["nvidia-smi", "-q", "-d", "PERFORMANCE"], "nvidia_smi:parse_q", "nvidia-smi"),
    _p("gpu-processes", ["nvidia-smi"], "nvidia_smi:parse_processes", "nvidia-smi"),
    _p("meminfo", read_file("/proc/meminfo"), "system:parse_meminfo", "/proc/meminfo"),
    _p("os-release", read_file("/etc/os-release"), "system:parse_os_release", "/etc/os-release"),
    _p("kernel", read_file("/proc/sys/kernel/osrelease"), "system:parse_kernel", "/proc/sys/kernel/osrelease"),
    _p("packages", ["dpkg-query", "-W", "-f=${Package}\\t${Version}\\t${db:Status-Abbrev}\\n", "nvidia-driver-*",
                    "nvidia-dkms-*", "nvidia-utils-*", "nvidia-container-toolkit", "docker-ce"],
       "packages:parse_dpkg_query", "dpkg-query", ok_rc=(0, 1)),
    _p("apt-holds", ["apt-mark", "showhold"], "packages:parse_showhold", "apt-mark"),
    _p("nvidia-ctk", ["nvidia-ctk", "--version"], "packages:parse_ctk_version", "nvidia-ctk"),
    _p("docker", ["docker", "version", "--format", "{{json .}}"], "packages:parse_docker_version", "docker"),
    _p("ibdev2netdev", ["ibdev2netdev"], "rdma:parse_ibdev2netdev", "ibdev2netdev"),
    _p("gids", ["sh", "-c", _GIDS], "rdma:parse_show_gids", "/sys/class/infiniband"),
    _p("ip-addr", ["ip", "-j", "addr", "show"], "netdev:parse_ip_addr", "ip"),
    _p("nmcli", ["nmcli", "-t", "-f", "DEVICE,TYPE,STATE,CONNECTION", "device", "status"],
       "network:parse_nmcli_device", "nmcli"),
    _p("netplan", ["sh", "-c", _NETPLAN], "network:parse_netplan", "/etc/netplan"),
    _p("services", ["systemctl", "is-active", "systemd-networkd", "NetworkManager"],
       "network:parse_services", "systemctl", ok_rc=(0, 3)),
    _p("ethtool", ["sh", "-c", _ETHTOOL], "netdev:parse_ethtool_i", "ethtool"),
    _p("ethtool-module", ["sh", "-c", _ETHTOOL_M], "netdev:parse_ethtool_m", "ethtool -m", privileged=True),
    _p("chrony", ["chronyc", "tracking"], "clock:parse_chrony_tracking", "chronyc"),
    _p("timedatectl", ["timedatectl", "show"], "clock:parse_timedatectl", "timedatectl"),
    _p("clock", ["date", "+%s.%N"], "clock:parse_epoch", "date"),
    _p("thermal", ["sh", "-c", THERMAL_SCRIPT], "thermal:parse_thermal_zones", "/sys/class/thermal"),
    _p("memory-holders", ["sh", "-c", "ps -eo pid=,rss=,comm= --sort=-rss | head -n 5"], "system:parse_memory_holders",
       "ps"),
    _p("tegrastats", ["sh", "-c", _TEGRASTATS], "thermal:parse_tegrastats", "tegrastats", privileged=True,
       timeout=8.0),
]}


def image_cuda_probe(image: str) -> Probe:
    return Probe("image-cuda", ("docker", "image", "inspect", "--format", "{{json .Config.Env}}", image),
                 "packages:parse_image_env", "docker")


def image_ray_probe(image: str) -> Probe:
    """Whether IMAGE has Ray (issue 8: a fact of the image, not of its name), where the image is on the host:
    `docker run --rm --entrypoint python3 IMAGE -c 'import ray'`. Answers `image-ray: ray VERSION`,
    `image-ray: no-ray` or `image-ray: no-image`."""
    q = shlex.quote(image)
    script = (f"docker image inspect {q} >/dev/null 2>&1 || {{ echo 'image-ray: no-image'; exit 0; }}; "
              f"docker run --rm --entrypoint python3 {q} -c 'import ray; print(\"image-ray: ray\", ray.__version__)' "
              "2>/dev/null || echo 'image-ray: no-ray'")
    return Probe("image-ray", ("sh", "-c", script), "packages:parse_image_ray", "docker", timeout=120.0)


def ping_probe(address: str, mtu: int) -> Probe:
    """With a deadline (-w) ping sends every 0.2 s until the first reply or the deadline: a first
    packet lost to ARP costs 0.2 s instead of a second round, and a local "message too long" ends it
    at once (iputils ping's -w semantics)."""
    size = max(mtu - 28, 0)
    return Probe("ping", ("ping", "-M", "do", "-s", str(size), "-c", "1", "-i", "0.2", "-w", "2", address),
                 "network:parse_ping", "ping", ok_rc=(0, 1))


def to_dict(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


Parser = Callable[[str], Any]
