"""sparkpilot net: the Spark-to-Spark QSFP fabric, set up with nmcli, proved tier by tier.

  gather.py    one remote command per node -> NodeState (ports, NetworkManager, neighbours, ...)
  topology.py  the cable map seen on the links, pair / switch / ring, one /24 per segment
  plan.py      the exact nmcli per node (nothing when all is in place), netplan flagged
  rollback.py  snapshot, restore and the host's own timer (systemd-run or a detached process)
  apply.py     arm, change, prove with don't-fragment pings, cancel or roll back
  check.py     tiered checks: link, addresses/MTU/pings, RDMA (ib_write_bw), NCCL all-gather
  drift.py     what changed since the last good check
Thresholds: knowledge/fabric.yaml (sparkpilot.knowledge.fabric).
"""
