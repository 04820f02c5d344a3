# source: https://github.com/Th0rgal/vllm-gb10-dgx-spark/blob/HEAD/README.md (../shared/data/commands/020.json)
# note: variant: -tp 2 in one docker run with no cluster
# expect: severity=error
docker run -d --name step3-vl \
  --gpus all --ipc=host --ulimit memlock=-1 --ulimit stack=67108864 \
  -p 8000:8000 -v /root/.cache/huggingface:/root/.cache/huggingface \
  th0rgal/vllm-gb10-dgx-spark:latest \
  vllm serve stepfun-ai/Step3-VL-10B \
    -tp 2 \
    --reasoning-parser deepseek_r1 \
    --enable-auto-tool-choice \
    --tool-call-parser hermes \
    --trust-remote-code
