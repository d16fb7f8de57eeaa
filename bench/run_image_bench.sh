#!/usr/bin/env bash
# Image pipeline benchmark (issue 4): ImageNet's training steps (decode, resize
# shorter side 256, random 224 crop, random mirror, float32 NCHW normalise) on
# ImageNet-like JPEGs, in the same run and on the same files:
#   iterd    iterd's own pieces in one bare thread (the ceiling),
#   opencv   MXNet's OpenCV-only steps in one thread,
#   daemon   the daemon's ImageRecordIter (batch 64) to the C++ client over
#            gRPC on 127.0.0.1, preprocess_threads 1 and 2 (--worker_threads 2),
#   torch    a PyTorch DataLoader with torchvision transforms, 1 and 2 workers.
# Prints medians over $ROUNDS interleaved rounds with the ratios and targets.
# SHARED_MEMORY=1 makes the daemon loops receive batches through the daemon's
# same-host shared-memory region instead of the gRPC byte stream.
#
# Extra arguments go to image_pipeline_bench: --nocrop_first makes loop (a)
# decode whole JPEGs (the path before crop-first decoding) to compare.
#
#   bench/run_image_bench.sh  (ROUNDS=2 EPOCHS=3 COUNT=1024 TORCH=1 SHARED_MEMORY=0)
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
PYTHON=/usr/bin/python3
ROUNDS=${ROUNDS:-2}
EPOCHS=${EPOCHS:-3}
COUNT=${COUNT:-1024}
TORCH=${TORCH:-1}
SHARED_MEMORY=${SHARED_MEMORY:-0}
if [[ "$SHARED_MEMORY" == 1 ]]; then SHM_FLAG=--shared_memory; else SHM_FLAG=--noshared_memory; fi

bazel build -c opt --symlink_prefix=/ //server:iterd //bench:image_pipeline_bench
BIN=$(bazel info -c opt --symlink_prefix=/ bazel-bin 2>/dev/null)

ROOT=$(mktemp -d /tmp/iterd_image_bench.XXXXXX)
DAEMON_PID=""
cleanup() {
  if [[ -n "$DAEMON_PID" ]]; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  rm -rf "$ROOT"
}
trap cleanup EXIT

"$PYTHON" "$REPO/bench/make_imagenet_like.py" "$ROOT" --count="$COUNT" --files |
  tee "$ROOT/profile.txt"
# Page-cache the data before anything is timed.
cat "$ROOT/images.rec" >/dev/null
find "$ROOT/files" -type f -exec cat {} + >/dev/null

mkfifo "$ROOT/iterd.stdout"
"$BIN/server/iterd" --listen=127.0.0.1:0 --data_root="$ROOT" --worker_threads=2 \
  >"$ROOT/iterd.stdout" 2>"$ROOT/iterd.log" &
DAEMON_PID=$!
exec 3<"$ROOT/iterd.stdout"
if ! read -r -t 30 FIRST_LINE <&3; then
  echo "iterd did not start; its log:" >&2
  cat "$ROOT/iterd.log" >&2
  exit 1
fi
cat <&3 >/dev/null &
ADDRESS=${FIRST_LINE##* }
echo "iterd pid $DAEMON_PID at $ADDRESS, data root $ROOT" >&2

TORCH_OK=$TORCH
if [[ "$TORCH" == 1 ]] && ! "$PYTHON" "$REPO/bench/torch_dataloader_bench.py" --help \
    >/dev/null 2>&1; then
  TORCH_OK=0
fi
RESULTS="$ROOT/results.txt"
for round in $(seq "$ROUNDS"); do
  echo "== round $round of $ROUNDS" >&2
  "$BIN/bench/image_pipeline_bench" --rec="$ROOT/images.rec" \
    --server="$ADDRESS" --daemon_rec=images.rec --daemon_pid="$DAEMON_PID" \
    --epochs="$EPOCHS" "$SHM_FLAG" "$@" | tee -a "$RESULTS"
  if [[ "$TORCH_OK" == 1 ]]; then
    set +e
    "$PYTHON" "$REPO/bench/torch_dataloader_bench.py" "$ROOT/files" --install \
      --workers=1,2 --epochs=2 | tee -a "$RESULTS"
    [[ ${PIPESTATUS[0]} == 3 ]] && TORCH_OK=0
    set -e
  fi
done
[[ "$TORCH_OK" == 1 ]] || echo "(no PyTorch figures: see the message above)" >&2
VMHWM_AT_END=$(awk '/^VmHWM/ {print $2 / 1024}' "/proc/$DAEMON_PID/status")

echo
cat "$ROOT/profile.txt"
echo "daemon -> C++ client transport: $([[ "$SHARED_MEMORY" == 1 ]] && echo "shared memory" || echo "gRPC byte stream")"
awk -F= -v rounds="$ROUNDS" '
  /=/ { count[$1]++; sample[$1, count[$1]] = $2 }
  function median(key,    n, i, j, t, v) {
    n = count[key]
    if (n == 0) return 0
    for (i = 1; i <= n; ++i) v[i] = sample[key, i]
    for (i = 2; i <= n; ++i) for (j = i; j > 1 && v[j - 1] > v[j]; --j) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  function row(name, value, cpu) {
    printf "%-44s %8.1f %10s\n", name, value, (cpu > 0 ? sprintf("%.1f", cpu) : "")
  }
  function ratio(name, value, target) {
    printf "%-44s %8.2f %10s\n", name, value, target
  }
  END {
    for (key in count) m[key] = median(key)
    printf "medians of %d rounds; img/s by wall clock (and per CPU-second of the loop thread)\n", rounds
    printf "%-44s %8s %10s\n", "loop", "img/s", "img/cpu-s"
    row("(a) iterd bare loop, 1 thread (ceiling)", m["iterd_img_s"], m["iterd_cpu_img_s"])
    row("(b) OpenCV-only loop, 1 thread", m["opencv_img_s"], m["opencv_cpu_img_s"])
    row("(c1) daemon -> C++ client, 1 decoder thread", m["daemon_t1_img_s"], 0)
    row("(c2) daemon -> C++ client, 2 decoder threads", m["daemon_t2_img_s"], 0)
    if ("torch_w1_img_s" in m) row("PyTorch DataLoader, 1 worker", m["torch_w1_img_s"], 0)
    if ("torch_w2_img_s" in m) row("PyTorch DataLoader, 2 workers", m["torch_w2_img_s"], 0)
    printf "\n%-44s %8s %10s\n", "ratio", "value", "target"
    a = m["iterd_img_s"]
    ratio("(c1)/(a) per decoder thread", m["daemon_t1_img_s"] / a, ">= 0.90")
    ratio("(c2)/(2a) per decoder thread", m["daemon_t2_img_s"] / (2 * a), ">= 0.90")
    ratio("scaling (c2)/(c1)", m["daemon_t2_img_s"] / m["daemon_t1_img_s"], ">= 1.80")
    ratio("(a)/(b) iterd vs OpenCV-only, per core", a / m["opencv_img_s"], ">= 1.40")
    if ("torch_w1_img_s" in m) ratio("(c1) vs PyTorch, 1 worker", m["daemon_t1_img_s"] / m["torch_w1_img_s"], ">= 2.00")
    if ("torch_w2_img_s" in m) ratio("(c2) vs PyTorch, 2 workers", m["daemon_t2_img_s"] / m["torch_w2_img_s"], ">= 2.00")
    printf "\ndaemon CPU per image: %.3f ms (1 thread), %.3f ms (2 threads); ceiling %.3f ms\n",
      m["daemon_t1_daemon_cpu_per_img_ms"], m["daemon_t2_daemon_cpu_per_img_ms"],
      (m["iterd_cpu_img_s"] > 0 ? 1000 / m["iterd_cpu_img_s"] : 0)
    printf "daemon peak RSS (VmHWM) %.0f MB (1 thread), %.0f MB (2 threads), of which mapped .rec (RssFile) %.0f MB;\n",
      m["daemon_t1_vmhwm_mb"], m["daemon_t2_vmhwm_mb"], m["daemon_t2_rss_file_mb"]
    printf "  prefetch depth %d x batch %.1f MB = %.0f MB\n", m["prefetch_depth"], m["batch_mb"],
      m["prefetch_depth"] * m["batch_mb"]
  }' "$RESULTS"
echo "daemon VmHWM over the whole run: ${VMHWM_AT_END} MB"
