# source: what `sparkpilot plan Qwen/Qwen3-32B --max-model-len 131072` wrote before issue 8 (main 3eb2460: FITS, with a note).
# Qwen3-32B has max_position_embeddings 40960; vLLM refuses at start the way https://github.com/vllm-project/vllm/issues/3676 shows:
# "ValueError: User-specified max_model_len (131072) is greater than the derived max_model_len (None=8192 in model's config.json)"
# expect: severity=error
vllm serve Qwen/Qwen3-32B --host 0.0.0.0 --port 8000 --tensor-parallel-size 1 --max-model-len 131072 --gpu-memory-utilization 0.85 --attention-backend TRITON_ATTN --kv-cache-dtype fp8 --max-cudagraph-capture-size 2048
