# source: https://github.com/NVIDIA/dgx-spark-playbooks/blob/0e4cfe880b119e5173d31ddff0d3d2350811ffa9/nvidia/vllm/README.md (Run on two Sparks, Step 8)
## On Node 1, enter container and start server
export VLLM_CONTAINER=$(docker ps --format '{{.Names}}' | grep -E '^node-[0-9]+$')
docker exec -it $VLLM_CONTAINER /bin/bash
vllm serve meta-llama/Llama-3.3-70B-Instruct \
--tensor-parallel-size 2 --max_model_len 2048
