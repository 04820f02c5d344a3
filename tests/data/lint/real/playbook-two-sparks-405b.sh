# source: https://github.com/NVIDIA/dgx-spark-playbooks/blob/0e4cfe880b119e5173d31ddff0d3d2350811ffa9/nvidia/vllm/README.md (Run on two Sparks, Step 11)
# (also ../shared/data/commands/014.json)
## On Node 1, launch with restricted parameters
export VLLM_CONTAINER=$(docker ps --format '{{.Names}}' | grep -E '^node-[0-9]+$')
docker exec -it $VLLM_CONTAINER /bin/bash
vllm serve hugging-quants/Meta-Llama-3.1-405B-Instruct-AWQ-INT4 \
--tensor-parallel-size 2 --max-model-len 256 --gpu-memory-utilization 1.0 \
--max-num-seqs 1 --max_num_batched_tokens 256
