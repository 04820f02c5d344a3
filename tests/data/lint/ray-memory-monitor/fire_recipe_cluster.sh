# source: https://github.com/eugr/spark-vllm-docker/blob/89151fd59f124616f9d20d9b9aa9646946218136/recipes/qwen3.6-35b-a3b-fp8.yaml (../shared/data/commands/005.json, placeholders filled from its defaults)
vllm serve Qwen/Qwen3.5-35B-A3B-FP8 \
  --host 0.0.0.0 \
  --port 8000 \
  --max-model-len 262144 \
  --max-num-batched-tokens 16384 \
  --gpu-memory-utilization 0.7 \
  --enable-auto-tool-choice \
  --tool-call-parser qwen3_xml \
  --kv-cache-dtype fp8 \
  --load-format fastsafetensors \
  --attention-backend flashinfer \
  --enable-prefix-caching \
  --chat-template fixed_chat_template.jinja \
  -tp 2 \
  --distributed-executor-backend ray
