# source: https://github.com/eugr/spark-vllm-docker/blob/136e2fd05c325a26e642007284f2250df8b848f1/recipes/nemotron-3-super-nvfp4-solo.yaml (../shared/data/commands/003.json)
VLLM_ATTENTION_BACKEND=FLASHINFER vllm serve nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-NVFP4 \
--kv-cache-dtype fp8 \
--moe-backend cutlass \
--trust-remote-code \
--gpu-memory-utilization 0.85 \
--max-model-len 131072 \
--max-num-seqs 4 \
--enable-prefix-caching \
--host 0.0.0.0 \
--port 8000 \
--enable-auto-tool-choice \
--tool-call-parser qwen3_coder
