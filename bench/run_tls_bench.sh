#!/usr/bin/env bash
# TLS benchmark: what TLS and a bearer token cost on the wire, against the
# plaintext path and the raw TCP ceiling measured in the same run.
#
# Builds iterd and wire_bench with -c opt (outside the bazel-bin symlink),
# makes a CA and a server certificate for 127.0.0.1 with openssl and a token
# file, writes a uint8 and a float32 (K,3,224,224) .npy into a temporary data
# root, and starts two daemons over it: plaintext, and TLS + token. Each of
# $ROUNDS interleaved rounds measures, with the C++ client (raw transport):
#   tcp       raw TCP loopback, the ceiling;
#   plain     the plaintext daemon over the socket (shared memory off);
#   tls       the TLS + token daemon over the socket (shared memory off);
#   tls_shm   the TLS + token daemon with same-host shared memory (the
#             default for a loopback address: payloads bypass TLS).
# Prints medians; docs/benchmarks.md records them.
#
#   bench/run_tls_bench.sh [other wire_bench flags]
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=bench/wire_common.sh
source bench/wire_common.sh
UINT8_SAMPLES=${UINT8_SAMPLES:-2048}
FLOAT32_SAMPLES=${FLOAT32_SAMPLES:-1024}
ROUNDS=${ROUNDS:-5}

bazel build -c opt --symlink_prefix=/ //server:iterd //bench:wire_bench
BIN=$(bazel info -c opt --symlink_prefix=/ bazel-bin 2>/dev/null)

ROOT=$(mktemp -d /tmp/iterd_tls_bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$ROOT"
}
trap cleanup EXIT

TLS="$ROOT/tls"
mkdir "$TLS"
(
  cd "$TLS"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
    -subj /CN=iterd-bench-ca
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out server.crt -days 2 -extfile san.ext
  echo "bench $(openssl rand -hex 32)" >tokens
) >/dev/null 2>&1

write_wire_arrays "$ROOT" "$UINT8_SAMPLES" "$FLOAT32_SAMPLES"

# Starts a daemon with the given extra flags; sets ADDRESS (no command
# substitution: the daemon must be this shell's child, for the cleanup).
start_daemon() {
  local name=$1
  shift
  mkfifo "$ROOT/$name.stdout"
  "$BIN/server/iterd" --listen=127.0.0.1:0 --data_root="$ROOT" "$@" \
    >"$ROOT/$name.stdout" 2>"$ROOT/$name.log" &
  PIDS+=($!)
  local line
  exec {fd}<"$ROOT/$name.stdout"
  if ! read -r -t 30 line <&"$fd"; then
    echo "iterd ($name) did not start; its log:" >&2
    cat "$ROOT/$name.log" >&2
    exit 1
  fi
  # Keep draining the daemon's stdout so it never blocks on a full pipe.
  cat <&"$fd" >/dev/null &
  ADDRESS=${line##* }
}
start_daemon plain
PLAIN=$ADDRESS
start_daemon tls --tls_cert_file="$TLS/server.crt" --tls_key_file="$TLS/server.key" \
  --auth_token_file="$TLS/tokens"
SECURE=$ADDRESS
echo "plaintext daemon at $PLAIN, TLS + token daemon at $SECURE" >&2

RESULTS="$ROOT/results.txt"
common=(--uint8_path="$ROOT/wire_uint8.npy" --float32_path="$ROOT/wire_float32.npy"
  --transports=raw "$@")
for round in $(seq "$ROUNDS"); do
  echo "== round $round of $ROUNDS" >&2
  "$BIN/bench/wire_bench" --server="$PLAIN" --shared_memory=off --figure_prefix=plain \
    "${common[@]}" | tee -a "$RESULTS"
  ITERD_TLS_CA="$TLS/ca.crt" ITERD_TOKEN=$(cut -d' ' -f2 "$TLS/tokens") \
    "$BIN/bench/wire_bench" --server="$SECURE" --shared_memory=off --figure_prefix=tls \
    --measure_tcp=false "${common[@]}" | tee -a "$RESULTS"
  ITERD_TLS_CA="$TLS/ca.crt" ITERD_TOKEN=$(cut -d' ' -f2 "$TLS/tokens") \
    "$BIN/bench/wire_bench" --server="$SECURE" --shared_memory=on --figure_prefix=tls_shm \
    --measure_tcp=false "${common[@]}" | tee -a "$RESULTS"
done

echo
median_figures "$RESULTS" | awk -F= '
  { value[$1] = $2 }
  END {
    printf "medians of %d rounds\n", rounds
    printf "%-8s %-10s %8s %9s %10s\n", "dtype", "path", "GB/s", "vs TCP", "vs plain"
    split("uint8 float32", dtypes, " ")
    for (d = 1; d <= 2; ++d) {
      tcp = value["tcp_" dtypes[d] "_GBps"]
      plain = value["plain_raw_" dtypes[d] "_GBps"]
      printf "%-8s %-10s %8.3f %9s %10s\n", dtypes[d], "tcp", tcp, "100%", ""
      split("plain tls tls_shm", paths, " ")
      for (p = 1; p <= 3; ++p) {
        key = paths[p] "_raw_" dtypes[d] "_GBps"
        if (!(key in value)) continue
        printf "%-8s %-10s %8.3f %8.0f%% %9.0f%%\n", dtypes[d], paths[p], value[key],
          100 * value[key] / tcp, 100 * value[key] / plain
      }
    }
  }' rounds="$ROUNDS"
