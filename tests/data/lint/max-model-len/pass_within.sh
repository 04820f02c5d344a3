# source: what `sparkpilot plan Qwen/Qwen3-32B` writes (the model's own 40960 positions)
vllm serve Qwen/Qwen3-32B --host 0.0.0.0 --port 8000 --tensor-parallel-size 1 --max-model-len 40960 --gpu-memory-utilization 0.87 --attention-backend TRITON_ATTN --kv-cache-dtype fp8 --max-cudagraph-capture-size 2048
