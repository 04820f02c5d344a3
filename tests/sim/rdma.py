"""Stand-ins for the RDMA / NCCL tools `sparkpilot net check` runs (this kernel has no RoCE).

`ib_write_bw` and `mpirun ... all_gather_perf` print recorded real outputs (tests/sim/data/ib_write_bw,
all_gather_perf; SOURCES.md). Which recording answers follows the node's variant, in
<node>/rdma-variant (set_variant; a test can change it between runs):
    healthy        every run: the 4-QP 111.71 Gb/s recording
    single-qp-low  a run with one queue pair: 13.33 Gb/s; with -q 2 or more: the healthy recording
    degraded       every run 13.33 Gb/s, several QPs or not (a hot-plugged cable)
A server (no address argument) prints the same table after its client's run, as perftest does.
mpirun answers `all_gather_perf -b 1G -e 4G -f 2` for 2 ranks only (the recording is a pair); other argvs are refused with
exit 2, like every other stand-in. Nothing here moves data: RDMA itself is not exercised.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

IB_WRITE_BW = """#!/bin/sh
# simulated Spark: stand-in for ib_write_bw (perftest), prints recorded real outputs (tests/sim/rdma.py)
variant=$(cat {variant} 2>/dev/null || echo healthy)
qps=1; dev=; addr=
while [ $# -gt 0 ]; do
  case "$1" in
    -q) qps=$2; shift 2 ;;
    -d) dev=$2; shift 2 ;;
    --report_gbits|-R|-F) shift ;;
    -*) echo "ib_write_bw: simulated node has no recording for option $1" >&2; exit 2 ;;
    *) addr=$1; shift ;;
  esac
done
[ -n "$dev" ] || {{ echo "ib_write_bw: simulated node needs -d DEVICE" >&2; exit 2; }}
case "$variant" in
  degraded) rec={data}/degraded.txt ;;
  single-qp-low) if [ "$qps" -gt 1 ]; then rec={data}/healthy-multi-qp.txt; else rec={data}/single-qp-low.txt; fi ;;
  *) rec={data}/healthy-multi-qp.txt ;;
esac
sleep 0.2
sed "s/Device         : rocep1s0f1/Device         : $dev/" "$rec"
"""

MPIRUN = """#!/bin/sh
# simulated Spark: stand-in for `mpirun ... all_gather_perf` (nccl-tests over MPI), prints a recorded
# real output for 2 ranks (tests/sim/rdma.py); any other run is refused
np=; last=
while [ $# -gt 0 ]; do
  case "$1" in
    -np) np=$2; shift 2 ;;
    -H|-x|--mca) shift 2 ;;
    --allow-run-as-root) shift ;;
    all_gather_perf) shift; last="$*"; break ;;
    *) echo "mpirun: simulated node has no recording for $1" >&2; exit 2 ;;
  esac
done
[ "$np" = 2 ] || {{ echo "mpirun: simulated node has an all_gather_perf recording for 2 ranks only" >&2; exit 2; }}
case "$last" in
  "-b 1G -e 4G -f 2") sleep 0.3; cat {data}/pair-ok.txt ;;
  *) echo "all_gather_perf: simulated node has no recording for: $last" >&2; exit 2 ;;
esac
"""


def install(node, variant: str = "healthy") -> None:
    bin_dir = Path(node.dir, "bin")
    bin_dir.mkdir(parents=True, exist_ok=True)
    set_variant(node, variant)
    vfile = shlex.quote(os.path.join(node.dir, "rdma-variant"))
    tools = (("ib_write_bw", IB_WRITE_BW, "ib_write_bw"), ("mpirun", MPIRUN, "all_gather_perf"),
             ("all_gather_perf", "#!/bin/sh\n# simulated Spark: nccl-tests is installed (mpirun runs it)\nexit 2\n", ""))
    for name, text, data in tools:
        path = bin_dir / name
        path.write_text(text.format(variant=vfile, data=shlex.quote(str(DATA / data))))
        os.chmod(path, 0o755)


def set_variant(node, variant: str) -> None:
    if variant not in ("healthy", "single-qp-low", "degraded"):
        raise ValueError(f"unknown RDMA variant `{variant}`")
    Path(node.dir, "rdma-variant").write_text(variant + "\n")
