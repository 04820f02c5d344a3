# source: https://github.com/vllm-project/vllm/issues/56832 with the drafter's own backend, as SpeculativeConfig.moe_backend allows
# (https://github.com/vllm-project/vllm/pull/37880; https://github.com/vllm-project/vllm/pull/51960 names this fix for GB10)
# lint: --model-info moe=true,quant=nvfp4,drafter_quant=false
vllm serve /models/RadixArk/Qwen3.8-Flash-Next-NVFP4 \
  --tensor-parallel-size 2 --disable-custom-all-reduce \
  --max-num-seqs 16 --gpu-memory-utilization 0.95 --max-num-batched-tokens 8192 \
  --enable-prefix-caching --no-enable-flashinfer-autotune \
  --moe-backend marlin \
  --speculative-config '{"method":"mtp","num_speculative_tokens":3,"moe_backend":"triton"}'
