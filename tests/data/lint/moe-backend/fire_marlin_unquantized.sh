# source: what `sparkpilot plan Qwen/Qwen3-30B-A3B` wrote before issue 8 (main 3eb2460): --moe-backend marlin on a BF16 MoE.
# vLLM refuses it at start: vllm/model_executor/layers/fused_moe/oracle/unquantized.py map_unquantized_backend raises
# "moe_backend='marlin' is not supported for unquantized MoE. Expected one of ['triton', ...]" (the same ValueError as
# https://github.com/vllm-project/vllm/issues/56832 and, on a GB10 with vLLM 0.25.1, https://github.com/vllm-project/vllm/pull/51960)
# expect: severity=error
vllm serve Qwen/Qwen3-30B-A3B --host 0.0.0.0 --port 8000 --tensor-parallel-size 1 --max-model-len 40960 --gpu-memory-utilization 0.87 --attention-backend TRITON_ATTN --kv-cache-dtype fp8 --moe-backend marlin --max-cudagraph-capture-size 2048
