# source: https://github.com/vllm-project/vllm/issues/56832 (the command; the model is ModelOpt NVFP4 routed experts with a
# BF16 MTP head, so --model-info says the drafter is unquantised). vLLM aborts at draft-model construction:
# "ValueError: moe_backend='marlin' is not supported for unquantized MoE. Expected one of ['triton', 'batched_triton', ...]"
# lint: --model-info moe=true,quant=nvfp4,drafter_quant=false
# expect: severity=error
vllm serve /models/RadixArk/Qwen3.8-Flash-Next-NVFP4 \
  --tensor-parallel-size 2 --disable-custom-all-reduce \
  --max-num-seqs 16 --gpu-memory-utilization 0.95 --max-num-batched-tokens 8192 \
  --enable-prefix-caching --no-enable-flashinfer-autotune \
  --moe-backend marlin \
  --speculative-config '{"method":"mtp","num_speculative_tokens":3}'
