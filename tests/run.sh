#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs
#   - ruff and mypy (configured in pyproject.toml) over the whole tree,
#   - every test (unit + integration on the simulated cluster) on the default Python 3.11,
#   - the unit tests again on Python 3.10 and 3.12 (when pyenv has them).
# Integration tests need root (network namespaces, sshd, dockerd); they skip with a reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  need=""
  # tmux: the watch dashboard test; prometheus (with promtool): the exporter is scraped by a real one
  # network-manager: the net tests run one real NetworkManager per simulated node
  # docker.io (dockerd, containerd, runc): one real Docker engine per simulated node; mmdebstrap
  # (else debootstrap): the engine image's root filesystem (tests/sim/images.py; vLLM's libnuma1
  # goes into the image)
  # strace: the stand-in delay test reads the sleep a stand-in asks for (no wall clock)
  for p in openssh-server openssh-client iproute2 iputils-ping procps tmux prometheus network-manager \
           docker.io debootstrap mmdebstrap util-linux curl strace; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
  done
  if [ -n "$need" ]; then
    echo "installing:$need"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
  fi
fi

pyfor() {  # pyfor 3.10 -> path of that python, or empty
  if command -v pyenv >/dev/null 2>&1; then
    local p; p=$(pyenv prefix "$1" 2>/dev/null | head -n1) || true
    [ -n "$p" ] && [ -x "$p/bin/python" ] && { echo "$p/bin/python"; return; }
  fi
  command -v "python$1" 2>/dev/null || true
}

mkvenv() {  # mkvenv DIR PYTHON
  if [ ! -x "$1/bin/python" ]; then "$2" -m venv "$1"; fi
  "$1/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[test]"
}

MAIN_PY=$(pyfor 3.11); MAIN_PY=${MAIN_PY:-python3}
mkvenv "$ROOT/.venv" "$MAIN_PY"
export PATH="$ROOT/.venv/bin:$PATH"

status=0
echo "== ruff and mypy"
"$ROOT/.venv/bin/python" -m pip install -q --disable-pip-version-check "ruff==0.17.6" "mypy==2.4.1" \
  "types-PyYAML==6.0.12.20261122"
"$ROOT/.venv/bin/ruff" check . || status=$?
"$ROOT/.venv/bin/mypy" || status=$?

if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null 2>&1; then
  # the simulated cluster's images and models: built once per machine (minutes), then cached in
  # /var/cache/sparkpilot-sim; printed here so the build time is not hidden in a test's setup
  echo "== simulated cluster images (vLLM CPU engine, replay, models)"
  (cd "$ROOT/tests" && "$ROOT/.venv/bin/python" "$ROOT/scripts/sim-cluster" images) || status=$?
fi

"$ROOT/.venv/bin/python" -m pytest -q tests "$@" || status=$?

for v in 3.10 3.12; do
  py=$(pyfor "$v")
  if [ -z "$py" ]; then echo "python $v not found: unit tests on $v skipped"; continue; fi
  mkvenv "$ROOT/.venv-$v" "$py"
  echo "== unit tests on Python $v"
  "$ROOT/.venv-$v/bin/python" -m pytest -q -m "not slow" tests/unit || status=$?
done
exit $status
