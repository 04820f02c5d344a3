# source: https://github.com/ecohash-co/deepseek-v4-flash-dgx-spark-vllm027/blob/9be18d9a1df42d56e11ac5c0dcabf150e1e4cdff/docker/docker-compose.castor.yml
# (VLLM_ALLOW_LONG_MAX_MODEL_LEN: "1" in its environment), applied to a model whose positions are known: vLLM starts, but
# past the trained positions RoPE models give NaN (https://github.com/vllm-project/vllm/pull/20904)
# expect: severity=warning
VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 vllm serve Qwen/Qwen3-32B --max-model-len 131072 --kv-cache-dtype fp8 --gpu-memory-utilization 0.85
