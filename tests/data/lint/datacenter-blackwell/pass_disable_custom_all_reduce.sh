# source: https://github.com/eugr/spark-vllm-docker/blob/a2989f2eddbe8ac4f43b1e69b9b50f706e1b9d3c/recipes/4x-spark-cluster/glm-5.3-flash.yaml (../shared/data/commands/008.json, placeholders filled from its defaults)
# note: --disable-custom-all-reduce is harmless on Sparks
VLLM_SPARSE_IDX_FORCE_PERSISTENT_TOPK=0 VLLM_MLA_NOPE_PAD_ROPE=1 vllm serve zai-org/GLM-5.3-Flash \
    --host 0.0.0.0 \
    --port 8000 \
    --served-model-name glm-5.3-flash \
    --tensor-parallel-size 4 \
    --max-model-len 524288 \
    --max-num-seqs 4 \
    --max-num-batched-tokens 4096 \
    --gpu-memory-utilization 0.88 \
    --kv-cache-dtype fp8_ds_mla \
    --moe-backend marlin \
    --disable-custom-all-reduce \
    --speculative-config '{"method":"mtp","num_speculative_tokens":5}' \
    --enable-auto-tool-choice \
    --enable-chunked-prefill \
    --enable-prefix-caching \
    --reasoning-parser glm45 \
    --tool-call-parser glm47 \
    --distributed-executor-backend ray \
    --trust-remote-code
