# source: ghcr.io/navi-ai-lab/nvllm scripts/serve_qwen35_agents.sh (search index id 56450609857)
export VLLM_NVFP4_GEMM_BACKEND=cutlass
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True

exec vllm serve \
  --model Sehyo/Qwen3.5-122B-A10B-NVFP4 \
  --served-model-name default \
  --host 0.0.0.0 --port 8000 \
  --attention-backend TRITON_ATTN \
  --max-model-len 65536 \
  --max-num-seqs 4 \
  --gpu-memory-utilization 0.85
