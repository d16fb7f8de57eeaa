#!/usr/bin/env bash
# Quick start: installs what is missing, builds, starts the iterd daemon on the bundled sample
# (examples/sample), runs the Python client against it (provide_data, provide_label, a few batches,
# throughput), then stops the daemon.
set -euo pipefail
cd "$(dirname "$0")"

tools/setup.sh

log=$(mktemp)
bazel-bin/server/iterd --listen=127.0.0.1:0 --data_root="$PWD/examples/sample" \
  --config=examples/sample/iterd.pbtxt >"$log" 2>&1 &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -f "$log"' EXIT

address=""
for _ in $(seq 100); do
  address=$(sed -n 's/^iterd listening on //p' "$log" | head -n 1)
  [[ -n "$address" ]] && break
  kill -0 $daemon 2>/dev/null || { cat "$log"; echo "quickstart: the daemon did not start" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$address" ]] || { cat "$log"; echo "quickstart: no listening line" >&2; exit 1; }
echo "quickstart: daemon (pid $daemon) listening on $address"

.venv/bin/python examples/quickstart.py --server "$address"

kill -TERM $daemon
wait $daemon && echo "quickstart: daemon stopped cleanly"
trap 'rm -f "$log"' EXIT
