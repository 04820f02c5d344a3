# source: https://github.com/timothystewart6/vllm-gb10/blob/e6fdb700da99d5e3f462c7cfaf9b7a532b7630e1/examples/two-node-cluster/docker-compose.head.yaml (../shared/data/commands/023.json)
# note: issue 8: judged for the default stack (NGC 26.04, NCCL 2.27.7+): a pinned index is a warning (GID drift 3 -> 4,
# https://github.com/tonyd2wild/DeepSeek-v4-Flash-Vision-Exp-DSpark-1M-NVFP4-KV-2x-DGX-Spark/pull/40)
# expect: severity=warning

services:
  vllm-ray-head:
    image: ghcr.io/timothystewart6/vllm-gb10:latest
    container_name: vllm-ray-head
    restart: unless-stopped
    network_mode: host
    ipc: host
    shm_size: '10.24gb'
    # privileged is required on GB10 to reach full throughput (~40+ t/s).
    # Without it, generation drops to ~24 t/s. Tested 2026-04-29.
    privileged: true
    cap_add:
      - SYS_PTRACE
    devices:
      - /dev/infiniband:/dev/infiniband
    ulimits:
      memlock: -1
    volumes:
      - ~/.cache/huggingface:/root/.cache/huggingface
      - ~/.cache/vllm:/root/.cache/vllm
    env_file:
      - .env
    environment:
      - HF_TOKEN=${HF_TOKEN}
      - HUGGING_FACE_HUB_TOKEN=${HF_TOKEN}
      - VLLM_HOST_IP=${HEAD_IP}
      - UCX_NET_DEVICES=${QSFP_IFACE}
      - NCCL_SOCKET_IFNAME=${QSFP_IFACE}
      - OMPI_MCA_btl_tcp_if_include=${QSFP_IFACE}
      - GLOO_SOCKET_IFNAME=${QSFP_IFACE}
      - TP_SOCKET_IFNAME=${QSFP_IFACE}
      - RAY_memory_monitor_refresh_ms=0
      - RAY_num_prestart_python_workers=0
      - RAY_object_store_memory=1073741824
      - RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO=0
      - MASTER_ADDR=${HEAD_IP}
      - MN_IF_NAME=${QSFP_IFACE}
      - SAFETENSORS_FAST_GPU=1
      - VLLM_ATTENTION_BACKEND=FLASHINFER
      # NCCL_IB_GID_INDEX=3  selects the RoCE v2 GID (IPv4-mapped IPv6).
      #              Verify with: show_gids | grep -i roce_v2
      - NCCL_IB_DISABLE=0
      - NCCL_NET_GDR_LEVEL=0
      - NCCL_IB_HCA=${IB_HCA}
      - NCCL_IB_GID_INDEX=3
      - NCCL_ALGO=Ring
      - NCCL_MIN_NCHANNELS=4
      - OMP_NUM_THREADS=4
    entrypoint: ["/bin/bash", "-c"]
    # Ray head node starts first, then waits 60 s for the worker to connect
    # before vllm starts allocating its placement group.
    command:
      - >-
        ray start
          --head
          --node-ip-address=${HEAD_IP}
          --port=6379
          --object-store-memory 1073741824
          --num-cpus 2
          --include-dashboard=false
          --disable-usage-stats
        && sleep 60
        && vllm serve cyankiwi/MiniMax-M2.7-AWQ-4bit
          --host 0.0.0.0
          --port 8000
          --trust-remote-code
          --tensor-parallel-size 2
          --distributed-executor-backend ray
          --gpu-memory-utilization 0.75
          --load-format fastsafetensors
          --max-model-len 196608
          --kv-cache-dtype fp8_e4m3
          --max-num-batched-tokens 8192
          --enable-auto-tool-choice
          --tool-call-parser minimax_m2
          --reasoning-parser minimax_m2
          --served-model-name MiniMax-M2.7-AWQ-4bit
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: all
              capabilities: [gpu]
