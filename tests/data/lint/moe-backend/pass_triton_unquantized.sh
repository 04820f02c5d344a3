# source: what `sparkpilot plan Qwen/Qwen3-30B-A3B` writes after issue 8: unquantised experts on triton, which vLLM's
# map_unquantized_backend accepts (vllm/model_executor/layers/fused_moe/oracle/unquantized.py)
vllm serve Qwen/Qwen3-30B-A3B --host 0.0.0.0 --port 8000 --tensor-parallel-size 1 --max-model-len 40960 --gpu-memory-utilization 0.87 --attention-backend TRITON_ATTN --kv-cache-dtype fp8 --moe-backend triton --max-cudagraph-capture-size 2048
