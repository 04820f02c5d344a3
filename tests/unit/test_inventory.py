"""Inventory files (CONTRACTS.md) and the --host shorthand; every bad input is one line, exit 2."""

from __future__ import annotations

import pytest

from sparkpilot import inventory
from sparkpilot.errors import UsageError

GOOD = """\
nodes:
  - name: spark-1
    ssh: user@spark-1            # anything ssh accepts; ~/.ssh/config is honoured
    role: head
    interconnect: [192.168.100.10, 192.168.101.10]
  - name: spark-2
    ssh: user@spark-2
image: nvcr.io/nvidia/vllm:26.04-py3
"""


def test_contract_example(tmp_path):
    p = tmp_path / "inv.yaml"
    p.write_text(GOOD)
    inv = inventory.load(p)
    assert [n.name for n in inv.nodes] == ["spark-1", "spark-2"]
    assert inv.head.name == "spark-1" and inv.nodes[1].role == "worker"
    assert inv.nodes[0].interconnect == ["192.168.100.10", "192.168.101.10"]
    assert inv.image == "nvcr.io/nvidia/vllm:26.04-py3"


def test_hosts_shorthand_first_is_head():
    inv = inventory.from_hosts(["user@a", "user@b:2222"])
    assert [(n.ssh, n.role) for n in inv.nodes] == [("user@a", "head"), ("user@b:2222", "worker")]
    assert [n.ssh for n in inventory.from_hosts(None).nodes] == ["local"]


def test_replay_expands_to_its_nodes():
    assert [n.ssh for n in inventory.from_hosts(["replay://pair"]).nodes] == \
        ["replay://pair/spark-a", "replay://pair/spark-b"]
    assert [n.ssh for n in inventory.from_hosts(["replay://single"]).nodes] == ["replay://single"]


@pytest.mark.parametrize("text,needle", [
    ("nodes: [", "not valid YAML"),
    ("- a\n- b\n", "expected a mapping"),
    ("nodes: []\n", "non-empty list"),
    ("nodes:\n  - ssh: user@a\n", "`name` is missing"),
    ("nodes:\n  - name: a\n    ssh: user@a\n    role: boss\n", "role `boss`"),
    ("nodes:\n  - name: a\n    ssh: user@a\n    interconnect: [300.1.1.1]\n", "not an IP address"),
    ("nodes:\n  - name: a\n    ssh: 'bad host'\n", "bad host"),
    ("nodes:\n  - name: a\n  - name: a\n", "listed twice"),
    ("nodes:\n  - name: a\n    sshh: user@a\n", "unknown key `sshh`"),
    ("nodes:\n  - {name: a, role: head}\n  - {name: b, role: head}\n", "more than one node has role head"),
])
def test_bad_inventory_is_one_line(tmp_path, text, needle):
    p = tmp_path / "inv.yaml"
    p.write_text(text)
    with pytest.raises(UsageError) as e:
        inventory.load(p)
    assert needle in str(e.value) and "\n" not in str(e.value) and e.value.exit_code == 2


def test_missing_file_and_unknown_replay(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        inventory.load(tmp_path / "nope.yaml")
    with pytest.raises(UsageError, match="no recorded host"):
        inventory.from_hosts(["replay://nope"])
