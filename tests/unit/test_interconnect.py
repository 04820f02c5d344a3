from sparkpilot.interconnect import NodeNet, RoceDevice, interconnect_env, is_placeholder


def test_placeholders_without_facts():
    env = interconnect_env(None)
    assert set(env) == {"NCCL_IB_HCA", "NCCL_IB_GID_INDEX", "NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME",
                        "UCX_NET_DEVICES", "VLLM_HOST_IP"}
    assert all(is_placeholder(v) for v in env.values())


def test_from_devices_of_a_real_pair_node():
    # device names and states from shared/data/host/gb10_a_ibdev2netdev.txt; GID 3 per the reference
    node = NodeNet("spark-1", [
        RoceDevice("rocep1s0f0", "enp1s0f0np0", "Down"),
        RoceDevice("rocep1s0f1", "enp1s0f1np1", "Up", 3, "192.168.100.10"),
        RoceDevice("roceP2p1s0f0", "enP2p1s0f0np0", "Down"),
        RoceDevice("roceP2p1s0f1", "enP2p1s0f1np1", "Up", 3, "192.168.101.10"),
    ])
    env = interconnect_env(node)
    assert env["NCCL_IB_HCA"] == "rocep1s0f1,roceP2p1s0f1"
    assert env["NCCL_IB_GID_INDEX"] == "3"
    assert env["NCCL_SOCKET_IFNAME"] == "enp1s0f1np1"
    assert env["VLLM_HOST_IP"] == "192.168.100.10"


def test_gid_index_four_on_other_node():
    node = NodeNet("spark-2", [RoceDevice("rocep1s0f1", "enp1s0f1np1", "Up", 4, "192.168.100.11")])
    assert interconnect_env(node)["NCCL_IB_GID_INDEX"] == "4"
