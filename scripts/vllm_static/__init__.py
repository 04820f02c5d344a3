"""Static reading of vLLM's source (no import of vllm): the parts of scripts/gen_vllm_flags.py.

  source.py   modules of a vLLM tree and where a name is defined
  fields.py   config dataclass fields -> argparse kwargs (vLLM's get_kwargs), kwargs -> flags
  interp.py   a small interpreter for the functions that build the `vllm serve` parser
"""
