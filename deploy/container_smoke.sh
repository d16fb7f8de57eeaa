#!/usr/bin/env bash
# Smoke test of the container image (deploy/Dockerfile) with podman, end to end:
#   1. makes the debian:bookworm-slim base image if missing (deploy/make_base_image.sh),
#   2. builds the image (podman build --pull=never),
#   3. packs a .rec from the sample's JPEGs with im2rec inside the image,
#   4. makes credentials on the host with openssl (a throw-away CA, a server certificate for
#      127.0.0.1 and localhost, a token file), checks that the image's daemon refuses to listen
#      on 0.0.0.0 without TLS or tokens (exit 2), then runs it with the image's default command
#      line (TLS and tokens), a data volume (the bundled sample plus that .rec, read-only), the
#      sample's config at /etc/iterd/iterd.pbtxt and the certificate and token file read-only at
#      /etc/iterd/tls and /etc/iterd/tokens, and waits for "iterd listening",
#   5. fetches batches from the host with the Python client over TLS with the token, from
#      ITERD_TLS_CA and ITERD_TOKEN (every pipeline of the sample's config and an ImageRecordIter
#      over the im2rec output), checks that a plaintext client, a client without a token and one
#      with a wrong token are refused, that /metrics wants the token and /healthz, /readyz do not,
#   6. checks that `podman stop` ends the container with exit code 0, quickly,
#   7. removes the container and the temporary data (the image is kept, so a rerun is warm).
#
#   deploy/container_smoke.sh
#
# Environment: ITERD_IMAGE (default localhost/iterd:latest), ITERD_PYTHON (a Python that can
# `import iterd`; default .venv/bin/python, made by tools/setup.sh), ITERD_SMOKE_REMOVE_IMAGE=1
# to remove the image at the end. Needs root, podman and openssl (tools/install_deps.sh installs
# them): root also because the credentials are handed to the container's uid 10001 by chown,
# which rootful podman maps to the same uid.
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
command -v openssl >/dev/null || fail "openssl is not installed (run tools/install_deps.sh)"
[[ -x "$python" ]] || fail "no Python client at $python (run tools/setup.sh, or set ITERD_PYTHON)"
"$python" -c "import iterd" 2>/dev/null ||
  fail "$python cannot import iterd (run tools/setup.sh, or set ITERD_PYTHON)"

work=$(mktemp -d /tmp/iterd-smoke.XXXXXX)
container=""
refused_container="iterd-smoke-refused-$$"
cleanup() {
  if [[ -n "$container" ]]; then podman rm -f -t 0 "$container" >/dev/null 2>&1 || true; fi
  podman rm -f -t 0 "$refused_container" >/dev/null 2>&1 || true
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

# 4. Credentials, made on the host: a CA (its key stays in $work/ca, never mounted), a server
# certificate for what the client dials through the published port (127.0.0.1, localhost), and a
# token file. The daemon runs as uid/gid 10001: it gets the key and the token file as their
# owner, mode 0400; the certificate is public (0644).
ca="$work/ca" tls="$work/tls" tokens="$work/tokens"
mkdir -p "$ca" "$tls" "$tokens"
if ! {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -days 2 \
    -subj "/CN=iterd smoke CA" -addext "keyUsage = critical, keyCertSign, cRLSign" \
    -keyout "$ca/ca.key" -out "$ca/ca.crt" &&
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -subj "/CN=localhost" \
    -keyout "$tls/tls.key" -out "$ca/server.csr" &&
  printf '%s\n' "subjectAltName = DNS:localhost, IP:127.0.0.1" "extendedKeyUsage = serverAuth" \
    "keyUsage = critical, digitalSignature" "basicConstraints = critical, CA:FALSE" \
    >"$ca/server.ext" &&
  openssl x509 -req -in "$ca/server.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial \
    -days 2 -extfile "$ca/server.ext" -out "$tls/tls.crt"
} >"$work/openssl.log" 2>&1; then
  cat "$work/openssl.log" >&2
  fail "openssl could not make the certificates"
fi
token=$(openssl rand -hex 32)
printf '# NAME TOKEN (deploy/container_smoke.sh)\nsmoke %s\n' "$token" >"$tokens/tokens"
chown 10001:10001 "$tls/tls.key" "$tokens/tokens"
chmod 0400 "$tls/tls.key" "$tokens/tokens"
chmod 0644 "$tls/tls.crt"
chmod 0755 "$tls" "$tokens"
say "made a CA, a server certificate for 127.0.0.1/localhost and a token file (uid 10001, 0400)"
volumes=(-v "$data:/data:ro" -v "$data/iterd.pbtxt:/etc/iterd/iterd.pbtxt:ro")

# Secure by default: without TLS or tokens (CMD replaced) the daemon must refuse 0.0.0.0.
help=$(podman run --rm --network none "$image" --helpfull 2>&1 || true)
for flag in --tls_cert_file --auth_token_file --insecure; do
  grep -q -- "$flag" <<<"$help" || fail "the image's daemon has no $flag flag"
done
refused_rc=0
refused_output=$(timeout 120 podman run --rm --name "$refused_container" --network none \
  "${volumes[@]}" "$image" --metrics_listen=0.0.0.0:9090 2>&1) || refused_rc=$?
podman rm -f -t 0 "$refused_container" >/dev/null 2>&1 || true
if [[ $refused_rc != 2 ]]; then
  echo "$refused_output" >&2
  fail "without TLS or tokens the daemon should refuse 0.0.0.0 with exit code 2, got $refused_rc"
fi
reason=$(grep -m 1 -i -E 'insecure|tls|token' <<<"$refused_output" || true)
say "without TLS or tokens the daemon refuses 0.0.0.0 (exit 2): $reason"

# The daemon, with the image's default command line (TLS, tokens, metrics on 9090).
container=$(podman run -d -p 127.0.0.1::50051 -p 127.0.0.1::9090 "${volumes[@]}" \
  -v "$tls:/etc/iterd/tls:ro" -v "$tokens:/etc/iterd/tokens:ro" "$image") ||
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
metrics_address=$(podman port "$container" 9090/tcp | sed -n 1p)
[[ -n "$metrics_address" ]] || fail "podman port found no host port for 9090"
say "daemon listening, runs as user $user, published on $address"

# 5. Real batches from the host, over TLS with the token, both from the environment as a training
# job would set them.
if ! ITERD_TLS_CA="$ca/ca.crt" ITERD_TOKEN="$token" \
     "$python" - "$address" "$metrics_address" <<'EOF'; then
import os
import sys
import urllib.error
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


def get(path, token=None):
    """(HTTP status, body) of GET http://metrics_address/path."""
    request = urllib.request.Request("http://%s%s" % (metrics_address, path))
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


for path in ("/healthz", "/readyz"):
    status = get(path)[0]
    assert status == 200, "%s without a token answered %d, expected 200" % (path, status)
for token in (None, "0" * 64):
    status = get("/metrics", token)[0]
    assert status == 401, "/metrics with %s answered %d, expected 401" % (
        "a wrong token" if token else "no token", status)
print("container_smoke: /healthz and /readyz open (200), /metrics without the token or with a "
      "wrong one refused (401)")
status, text = get("/metrics", os.environ["ITERD_TOKEN"])
assert status == 200, "/metrics with the token answered %d" % status
served = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
             if line.startswith("iterd_batches_served_total"))
print("container_smoke: /metrics served %d lines, iterd_batches_served_total %d" % (
    len(text.splitlines()), served))
EOF
  podman logs "$container" 2>&1 | tail -n 20 >&2
  fail "the Python client could not fetch batches from the container"
fi

# Refused: a plaintext client, and TLS clients without the token or with a wrong one. A clean
# environment, so the client's ITERD_TLS_* and ITERD_TOKEN* defaults cannot interfere.
if ! env -u ITERD_TLS_CA -u ITERD_TLS_CERT -u ITERD_TLS_KEY -u ITERD_TOKEN -u ITERD_TOKEN_FILE \
     timeout 120 "$python" - "$address" "$ca/ca.crt" "$token" <<'EOF'; then
import sys
import grpc
import iterd

address, ca_file, token = sys.argv[1:4]


def refused(what, expected, **security):
    try:
        with iterd.Client(address, shared_memory=False, **security) as client:
            client.list_pipelines()
    except iterd.IterdError as error:
        assert error.code == expected, "%s: %s, expected %s" % (what, error, expected.name)
        print("container_smoke: %s refused: %s" % (what, error.code.name))
        return
    raise AssertionError("%s was served" % what)


refused("a plaintext client (with the token)", grpc.StatusCode.UNAVAILABLE, token=token)
refused("a TLS client without a token", grpc.StatusCode.UNAUTHENTICATED,
        root_certificates=ca_file)
refused("a TLS client with a wrong token", grpc.StatusCode.UNAUTHENTICATED,
        root_certificates=ca_file, token="0" * 64)
EOF
  podman logs "$container" 2>&1 | tail -n 20 >&2
  fail "a client without TLS or without the token was not refused as expected"
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
