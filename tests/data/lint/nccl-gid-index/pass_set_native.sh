# source: https://github.com/ecohash-co/deepseek-v4-flash-dgx-spark-vllm027/blob/9be18d9a1df42d56e11ac5c0dcabf150e1e4cdff/docker/docker-compose.castor.yml (../shared/data/commands/029.json: command and environment)
# note: the image is a community build of vLLM 0.27 whose NCCL version is not published: judged as a stack of unknown
# NCCL (upstream), where a per-node index is the user's call
# lint: --stack upstream
export NCCL_NET=IB NCCL_IB_DISABLE=0 NCCL_IB_HCA=rocep1s0f0 NCCL_SOCKET_IFNAME=enp1s0f0np0 NCCL_IB_GID_INDEX=3
export NCCL_CROSS_NIC=1 NCCL_CUMEM_ENABLE=0 NCCL_IGNORE_CPU_AFFINITY=1 NCCL_NVLS_ENABLE=0
export VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0 TORCH_CUDA_ARCH_LIST=12.1a FLASHINFER_CUDA_ARCH_LIST=12.1a
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True VLLM_HOST_IP=192.168.100.10 MASTER_ADDR=192.168.100.10
export MASTER_PORT=25000 NODE_RANK=0
exec vllm serve deepseek-ai/DeepSeek-V4-Flash-0731
--served-model-name deepseek-v4-flash-dspark
--host 0.0.0.0
--port 8888
--trust-remote-code
# STRONGLY RECOMMENDED -- pin the checkpoint. Without this vLLM resolves
# refs/main, which can silently change under a re-pull, and which may not be
# the revision any recipe you are comparing against was validated on.
# MiaAI-Lab's tested revision:
# --revision 9e165c30e2704aec5d9d593cce3eebd58bbef1cb
--tensor-parallel-size 2
--pipeline-parallel-size 1
--kv-cache-dtype fp8_ds_mla
--block-size 256
--max-model-len 1048576
--max-num-seqs 12
--max-num-batched-tokens 8192
--max-cudagraph-capture-size 72
--gpu-memory-utilization 0.80
--enable-prefix-caching
--async-scheduling
--enable-chunked-prefill
--speculative-config '{"method":"dspark","num_speculative_tokens":5,"draft_sample_method":"probabilistic"}'
--tokenizer-mode deepseek_v4
--distributed-executor-backend mp
--tool-call-parser deepseek_v4
--enable-auto-tool-choice
--reasoning-parser deepseek_v4
--default-chat-template-kwargs '{"thinking":true}'
--generation-config vllm
--enable-flashinfer-autotune
--nnodes 2
--node-rank 0
--master-addr 192.168.100.10
--master-port 25000
