"""Facts: what the probes found on each host, as snapshots. Unknown is an explicit NA with a reason.

    collect(inventory_or_runners, timeout=10.0) -> ClusterFacts

runs every probe on every host at once (a thread per host, all of a host's probes in one remote
command run side by side there; every command has a timeout), so a cluster of 16 takes about as
long as one host when waiting, not CPU, dominates. A host that does not answer is `reachable=False` with a one-line
reason, never a hang. Checks (sparkpilot.checks) are pure functions over these snapshots.

    model.py    NA, ProbeResult, HostFacts, PingResult, ClusterFacts (the snapshots)
    probing.py  classify / run_probe / run_all (one host's commands and what they mean)
    pings.py    don't-fragment pings between nodes
    collect.py  collect (every host at once, then the pings)
"""

from sparkpilot.facts.model import NA, NOT_RECORDED, ClusterFacts, HostFacts, PingResult, ProbeResult
from sparkpilot.facts.probing import classify, clock_offset, one_line, run_all, run_probe
from sparkpilot.facts.pings import early_pings, interconnect_addresses, run_pings
from sparkpilot.facts.collect import collect, collect_host, collect_runners

__all__ = ["NA", "NOT_RECORDED", "ClusterFacts", "HostFacts", "PingResult", "ProbeResult", "classify",
           "clock_offset", "collect", "collect_host", "collect_runners", "early_pings", "interconnect_addresses",
           "one_line", "run_all", "run_pings", "run_probe"]
