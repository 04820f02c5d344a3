# source: https://github.com/NVIDIA/dgx-spark-playbooks/blob/0e4cfe880b119e5173d31ddff0d3d2350811ffa9/nvidia/vllm/README.md (Step 2; ../shared/data/commands/011.json)
# note: the user says it is an AWQ MoE model; NGC 25.11 (vLLM 0.11.1) has no --moe-backend and picks the kernel: info
# lint: --model-info moe=true,quant=awq
# expect: severity=info
docker run -it --gpus all -p 8000:8000 \
nvcr.io/nvidia/vllm:25.11-py3 \
vllm serve "Qwen/Qwen2.5-Math-1.5B-Instruct"
