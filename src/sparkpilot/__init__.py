"""sparkpilot: vLLM on NVIDIA DGX Spark (GB10 Grace Blackwell, SM121), first time and fast."""

__version__ = "0.1.0"
