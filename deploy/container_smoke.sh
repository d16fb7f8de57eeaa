#!/usr/bin/env bash
# Smoke test of the container image (deploy/Dockerfile) with podman, end to end:
#   1. makes the debian:bookworm-slim base image if missing (deploy/make_base_image.sh),
#   2. builds the image (podman build --pull=never),
#   3. packs a .rec from the sample's JPEGs with im2rec inside the image,
#   4. runs the daemon with the image's default command line, a data volume (the bundled sample
#      plus that .rec, read-only) and the sample's config mounted at /etc/iterd/iterd.pbtxt,
#      waits for "iterd listening",
#   5. fetches batches from the host with the Python client (every pipeline of the sample's
#      config and an ImageRecordIter over the im2rec output) and /metrics when the build has it,
#   6. checks that `podman stop` ends the container with exit code 0, quickly,
#   7. removes the container and the temporary data (the image is kept, so a rerun is warm).
#
#   deploy/container_smoke.sh
#
# Environment: ITERD_IMAGE (default localhost/iterd:latest), ITERD_PYTHON (a Python that can
# `import iterd`; default .venv/bin/python, made by tools/setup.sh), ITERD_SMOKE_REMOVE_IMAGE=1
# to remove the image at the end. Needs root and podman (tools/install_deps.sh installs them).
# Prints "container_smoke: OK" last on success; exits non-zero with a reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/containers.conf}"
image=${ITERD_IMAGE:-localhost/iterd:latest}
python=${ITERD_PYTHON:-$PWD/.venv/bin/python}
stop_limit_seconds=5

say() { echo "container_smoke: $*"; }
fail() { echo "container_smoke: FAILED: $*" >&2; exit 1; }
seconds_since() { echo "$(( $(date +%s) - $1 ))"; }

command -v podman >/dev/null || fail "podman is not installed (run tools/install_deps.sh)"
[[ -x "$python" ]] || fail "no Python client at $python (run tools/setup.sh, or set ITERD_PYTHON)"
"$python" -c "import iterd" 2>/dev/null ||
  fail "$python cannot import iterd (run tools/setup.sh, or set ITERD_PYTHON)"

work=$(mktemp -d /tmp/iterd-smoke.XXXXXX)
container=""
cleanup() {
  if [[ -n "$container" ]]; then podman rm -f -t 0 "$container" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  if [[ "${ITERD_SMOKE_REMOVE_IMAGE:-0}" == 1 ]]; then podman rmi -f "$image" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# 1. Base image.
deploy/make_base_image.sh docker.io/library/debian:bookworm-slim ||
  fail "could not make the debian:bookworm-slim base image"

# 2. Image build.
say "building $image from deploy/Dockerfile (log: $work/build.log)"
start=$(date +%s)
if ! podman build --pull=never -f deploy/Dockerfile -t "$image" . >"$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log" >&2
  cp "$work/build.log" /tmp/iterd-smoke-build.log
  fail "podman build failed (full log: /tmp/iterd-smoke-build.log)"
fi
size=$(podman image inspect -f '{{.Size}}' "$image")
say "built $image in $(seconds_since "$start") s, size $((size / 1000000)) MB"

# 3. Data: the bundled sample (examples/sample), plus a .rec that im2rec inside the image packs
# from the sample's JPEGs. The daemon runs as uid 10001, so everything must be world-readable.
data="$work/data"
mkdir -p "$data"
cp -r examples/sample/. "$data/"
chmod -R a+rwX "$data"
im2rec=(podman run --rm --network none -v "$data:/data" -w /data --entrypoint /usr/local/bin/im2rec
        "$image")
if ! "${im2rec[@]}" --list --recursive packed images >"$work/im2rec.log" 2>&1 ||
   ! "${im2rec[@]}" --num-thread 2 packed images >>"$work/im2rec.log" 2>&1; then
  cat "$work/im2rec.log" >&2
  fail "im2rec in the image failed"
fi
[[ -s "$data/packed.rec" && -s "$data/packed.idx" ]] || fail "im2rec wrote no packed.rec/.idx"
say "im2rec in the image packed $(wc -l <"$data/packed.lst") images into packed.rec"
chmod -R a+rX,go-w "$data"

# 4. The daemon, with the image's default command line (metrics on 9090 when the build has it).
ports=(-p 127.0.0.1::50051)
help=$(podman run --rm --network none "$image" --helpfull 2>&1 || true)
metrics=0
if grep -q -- '--metrics_listen' <<<"$help"; then
  metrics=1
  ports+=(-p 127.0.0.1::9090)
fi
container=$(podman run -d "${ports[@]}" -v "$data:/data:ro" \
  -v "$data/iterd.pbtxt:/etc/iterd/iterd.pbtxt:ro" "$image") ||
  fail "podman run failed"
say "started container ${container:0:12}"
listening=""
for _ in $(seq 150); do
  # Captured first: with pipefail, `podman logs | grep -q` can fail on SIGPIPE after a match.
  logs=$(podman logs "$container" 2>&1 || true)
  listening=$(grep -m 1 '^iterd listening on' <<<"$logs" || true)
  [[ -z "$listening" ]] || break
  if [[ $(podman inspect -f '{{.State.Running}}' "$container") != true ]]; then
    echo "$logs" >&2
    fail "the daemon exited before listening (exit code $(podman inspect -f '{{.State.ExitCode}}' "$container"))"
  fi
  sleep 0.2
done
[[ -n "$listening" ]] || { echo "$logs" >&2; fail "no 'iterd listening' line in 30 s"; }
say "daemon says: $listening"
user=$(podman top "$container" user | tail -n 1)
[[ "$user" != root ]] || fail "the daemon runs as root in the container"
address=$(podman port "$container" 50051/tcp | sed -n 1p)
[[ -n "$address" ]] || fail "podman port found no host port for 50051"
say "daemon listening, runs as user $user, published on $address"

# 5. Real batches from the host.
metrics_address=""
if [[ $metrics == 1 ]]; then metrics_address=$(podman port "$container" 9090/tcp | sed -n 1p); fi
if ! "$python" - "$address" "$metrics_address" <<'EOF'; then
import sys
import urllib.request
import iterd

address, metrics_address = sys.argv[1], sys.argv[2]
client = iterd.Client(address)
names = sorted(p.name for p in client.list_pipelines())
print("container_smoke: pipelines", names)
batches = 0
for name in names:
    count = 0
    for batch in client.open(name):
        if count == 0:
            print("container_smoke: %s batch data %s label %s" % (
                name, batch.data[0].shape, batch.label[0].shape))
        count += 1
    print("container_smoke: %s gave %d batches" % (name, count))
    batches += count
count = 0
images = iterd.ImageRecordIter(path_imgrec="packed.rec", data_shape=(3, 48, 48), batch_size=8,
                               resize=56, rand_crop=True, rand_mirror=True, server=address)
for batch in images:
    if count == 0:
        print("container_smoke: ImageRecordIter(packed.rec) batch data %s %s label %s" % (
            batch.data[0].shape, batch.data[0].dtype, batch.label[0].shape))
    count += 1
print("container_smoke: ImageRecordIter(packed.rec) gave %d batches" % count)
batches += count
print("container_smoke: batches received: %d" % batches)
if metrics_address:
    text = urllib.request.urlopen("http://%s/metrics" % metrics_address, timeout=10).read().decode()
    served = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith("iterd_batches_served_total"))
    print("container_smoke: /metrics served %d lines, iterd_batches_served_total %d" % (
        len(text.splitlines()), served))
EOF
  podman logs "$container" 2>&1 | tail -n 20 >&2
  fail "the Python client could not fetch batches from the container"
fi

# 6. Clean, quick stop: SIGTERM to PID 1 (iterd), exit code 0, well before podman's 10 s SIGKILL.
start_ns=$(date +%s%N)
podman stop -t 10 "$container" >/dev/null || fail "podman stop failed"
stop_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
exit_code=$(podman inspect -f '{{.State.ExitCode}}' "$container")
say "podman stop: exit code $exit_code in $stop_ms ms"
if [[ "$exit_code" != 0 ]]; then
  podman logs "$container" 2>&1 | tail -n 20 >&2
  fail "the daemon exited with code $exit_code on SIGTERM (expected 0)"
fi
(( stop_ms < stop_limit_seconds * 1000 )) ||
  fail "podman stop took $stop_ms ms: the daemon ignored SIGTERM until the SIGKILL"
say "OK"
