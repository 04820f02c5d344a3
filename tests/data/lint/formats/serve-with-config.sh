# source: vLLM docs, "To use the above config file" (docs/configuration/serve_args.md), with a Spark-style override
vllm serve --config vllm-issue-config.yaml --gpu-memory-utilization 0.85 --enforce-eager
