# source: https://github.com/spark-arena/recipe-registry/blob/14ba650e3b31f11186f411a1c0bc94d4449f70bd/experimental-recipes/gemma4/gemma4-26b-a4b-online-fp8-vllm.yaml (../shared/data/commands/026.json, placeholders filled)
# expect: severity=warning
vllm serve google/gemma-4-26B-A4B-it \
  --max-model-len 262144 \
  --kv-cache-dtype fp8 \
  --gpu-memory-utilization 0.8 \
  --host 0.0.0.0 \
  --port 8000 \
  --load-format fastsafetensors \
  --enable-prefix-caching \
  --tool-call-parser gemma4 \
  --enable-auto-tool-choice \
  --reasoning-parser gemma4 \
  --async-scheduling \
  --max-num-batched-tokens 8192 \
  --trust-remote-code \
  --quantization fp8 \
  -tp 1 \
  -pp 1
