# source: AEON-7 Gemma-4-26B-A4B-it-Uncensored-NVFP4 README, Quick Start step 3 (search index: find_string
# "VLLM_NVFP4_GEMM_BACKEND", read via id 53756083882); container built from eugr/spark-vllm-docker
docker run --gpus all --ipc host -p 8000:8000 \
  -e VLLM_NVFP4_GEMM_BACKEND=marlin \
  -v ./model:/models/Gemma-4-26B-A4B-it-Uncensored-NVFP4 \
  -v ./model/gemma4_patched.py:/usr/local/lib/python3.12/dist-packages/vllm/model_executor/models/gemma4.py \
  ghcr.io/aeon-7/vllm-spark-gemma4-nvfp4:latest \
  vllm serve /models/Gemma-4-26B-A4B-it-Uncensored-NVFP4 \
    --served-model-name Gemma-4-26B-A4B-it-Uncensored-NVFP4 \
    --max-model-len 262000 \
    --gpu-memory-utilization 0.8 \
    --trust-remote-code \
    --dtype auto \
    --kv-cache-dtype fp8 \
    --enable-chunked-prefill \
    --load-format safetensors \
    --enable-prefix-caching \
    --enable-auto-tool-choice \
    --tool-call-parser gemma4
