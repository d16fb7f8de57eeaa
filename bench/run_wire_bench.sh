#!/usr/bin/env bash
# Wire benchmark: how fast batches reach a client over 127.0.0.1, against the
# raw TCP ceiling measured in the same run.
#
# Builds iterd and wire_bench with -c opt (without touching the bazel-bin
# symlink, which others use for fastbuild outputs), writes a uint8 and a
# float32 (K,3,224,224) .npy into a temporary data root, starts the daemon,
# runs the C++ client (and bench/wire_bench.py if present) and prints each
# figure with its ratio to raw TCP. Targets: C++ >= 80%, Python >= 40%.
#
#   bench/run_wire_bench.sh [--epochs=N] [other wire_bench flags]
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=bench/wire_common.sh
source bench/wire_common.sh
REPO=$(pwd)
VENV_PYTHON="$REPO/.venv/bin/python"
UINT8_SAMPLES=${UINT8_SAMPLES:-4096}
FLOAT32_SAMPLES=${FLOAT32_SAMPLES:-2048}

bazel build -c opt --symlink_prefix=/ //server:iterd //bench:wire_bench
BIN=$(bazel info -c opt --symlink_prefix=/ bazel-bin 2>/dev/null)

ROOT=$(mktemp -d /tmp/iterd_wire_bench.XXXXXX)
DAEMON_PID=""
cleanup() {
  if [[ -n "$DAEMON_PID" ]]; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  rm -rf "$ROOT"
}
trap cleanup EXIT

write_wire_arrays "$ROOT" "$UINT8_SAMPLES" "$FLOAT32_SAMPLES"

mkfifo "$ROOT/iterd.stdout"
"$BIN/server/iterd" --listen=127.0.0.1:0 --data_root="$ROOT" \
  >"$ROOT/iterd.stdout" 2>"$ROOT/iterd.log" &
DAEMON_PID=$!
exec 3<"$ROOT/iterd.stdout"
if ! read -r -t 30 FIRST_LINE <&3; then
  echo "iterd did not start; its log:" >&2
  cat "$ROOT/iterd.log" >&2
  exit 1
fi
# Keep draining the daemon's stdout so it never blocks on a full pipe.
cat <&3 >/dev/null &
ADDRESS=${FIRST_LINE##* }
echo "iterd pid $DAEMON_PID at $ADDRESS, data root $ROOT" >&2

RESULTS="$ROOT/results.txt"
# Loopback throughput on a shared 2-core machine swings by 2x between runs, so every figure,
# the raw TCP ceiling included, is measured in each of $ROUNDS interleaved rounds and the table
# reports medians.
ROUNDS=${ROUNDS:-5}
for round in $(seq "$ROUNDS"); do
  echo "== round $round of $ROUNDS" >&2
  "$BIN/bench/wire_bench" --server="$ADDRESS" \
    --uint8_path="$ROOT/wire_uint8.npy" \
    --float32_path="$ROOT/wire_float32.npy" "$@" | tee -a "$RESULTS"

  if [[ -f "$REPO/bench/wire_bench.py" && -x "$VENV_PYTHON" ]]; then
    for dtype in uint8 float32; do
      if figure=$("$VENV_PYTHON" "$REPO/bench/wire_bench.py" \
          --address="$ADDRESS" --pipeline-npy="$ROOT/wire_$dtype.npy" \
          --dtype="$dtype" --batch-size=256 |
          sed -n 's/^python_client_GBps=//p' | tail -1) && [[ -n "$figure" ]]; then
        echo "python_${dtype}_GBps=$figure" | tee -a "$RESULTS"
      else
        echo "bench/wire_bench.py failed for $dtype" >&2
      fi
    done
  else
    echo "(bench/wire_bench.py or $VENV_PYTHON missing: no Python figure)" >&2
  fi
done

echo
median_figures "$RESULTS" | awk -F= '
  { value[$1] = $2; ++count }
  END {
    printf "medians of %d rounds\n", rounds
    printf "%-8s %-14s %8s %9s %8s\n", "dtype", "path", "GB/s", "vs TCP", "target"
    split("uint8 float32", dtypes, " ")
    split("tcp cpp_raw cpp_proto python", paths, " ")
    for (d = 1; d <= 2; ++d) {
      tcp = value["tcp_" dtypes[d] "_GBps"]
      for (p = 1; p <= 4; ++p) {
        key = paths[p] "_" dtypes[d] "_GBps"
        if (!(key in value)) continue
        target = paths[p] == "tcp" ? "" : (paths[p] == "python" ? ">=40%" : ">=80%")
        ratio = tcp > 0 ? sprintf("%.0f%%", 100 * value[key] / tcp) : "?"
        printf "%-8s %-14s %8.3f %9s %8s\n", dtypes[d], paths[p], value[key], ratio, target
      }
    }
  }' rounds="$ROUNDS"
