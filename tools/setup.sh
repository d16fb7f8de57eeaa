#!/usr/bin/env bash
# Installs what is missing, builds the daemon and the C++ client, and installs the Python client
# into .venv/ (a venv with --system-site-packages over Debian's grpcio/protobuf/numpy).
# Used by quickstart.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_deps.sh
echo "setup: building the daemon, the C++ client and im2rec (bazel)"
bazel build //server:iterd //client/cpp:iterd_cli //tools:im2rec
if [[ ! -x .venv/bin/python ]]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
echo "setup: installing the Python client into .venv"
.venv/bin/pip install -q --no-index --no-build-isolation --force-reinstall --no-deps ./client/python
