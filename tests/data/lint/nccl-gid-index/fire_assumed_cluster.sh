# source: https://github.com/NVIDIA/dgx-spark-playbooks/blob/0e4cfe880b119e5173d31ddff0d3d2350811ffa9/nvidia/vllm/README.md (Step 11; ../shared/data/commands/014.json)
# note: issue 8: the default stack (NGC 26.04) has NCCL 2.27.7+, which picks the RoCEv2 GID itself: unset is info
# expect: severity=info
vllm serve hugging-quants/Meta-Llama-3.1-405B-Instruct-AWQ-INT4 \
--tensor-parallel-size 2 --max-model-len 256 --gpu-memory-utilization 1.0 \
--max-num-seqs 1 --max_num_batched_tokens 256
