# source: https://github.com/NVIDIA/dgx-spark-playbooks/blob/0e4cfe880b119e5173d31ddff0d3d2350811ffa9/nvidia/vllm/README.md (Step 2; one Spark needs no RDMA devices)
docker run -it --gpus all -p 8000:8000 \
nvcr.io/nvidia/vllm:25.11-py3 \
vllm serve "Qwen/Qwen2.5-Math-1.5B-Instruct"
