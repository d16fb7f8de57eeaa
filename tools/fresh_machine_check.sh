#!/usr/bin/env bash
# Proves the README's two commands on a brand-new Debian 12 machine: builds a minimal bookworm
# root file system with debootstrap, imports it into podman, and runs ./quickstart.sh and then
# ./test.sh in a fresh clone of this repository's HEAD inside it (as root, nothing preinstalled).
#
#   tools/fresh_machine_check.sh [quickstart|test|both]    (default both; logs in /tmp/iterd-fresh)
#
# Needs root on the host; installs podman and debootstrap there if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-both}
work=/tmp/iterd-fresh
mkdir -p "$work"

ITERD_EXTRA_PACKAGES="podman runc debootstrap uidmap" tools/install_deps.sh >/dev/null
export CONTAINERS_CONF="$PWD/deploy/containers.conf"

image=localhost/iterd-fresh-bookworm:latest
# One debootstrap import, also tagged debian:bookworm-slim for deploy/Dockerfile.
deploy/make_base_image.sh "$image" docker.io/library/debian:bookworm-slim

# A fresh clone of HEAD: what CI and a new user get (no build outputs, no .venv).
clone="$work/clone"
rm -rf "$clone"
git clone -q "$PWD" "$clone"

# The network's own CA certificates (a TLS-intercepting egress proxy installs one here): a new
# machine on this network has them too, and the npm registry is reached through that proxy. When
# ca-certificates gets installed in the container its postinst adds them to the system store.
network_ca=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  network_ca=(-v /usr/local/share/ca-certificates:/usr/local/share/ca-certificates:ro)
fi

run() {
  local command=$1 log="$work/$1.log"
  echo "fresh: running ./$command.sh in a new bookworm container (log: $log)"
  podman run --rm --network host "${network_ca[@]}" -v "$clone:/src" -w /src "$image" \
    bash -c "./$command.sh" >"$log" 2>&1
  local rc=$?
  tail -n 3 "$log"
  echo "fresh: ./$command.sh exited $rc"
  return $rc
}

status=0
case "$what" in
  quickstart) run quickstart || status=1 ;;
  test) run test || status=1 ;;
  both)
    # One container for both, as one new machine would run them one after the other.
    log="$work/both.log"
    echo "fresh: running ./quickstart.sh then ./test.sh in one new bookworm container (log: $log)"
    podman run --rm --network host "${network_ca[@]}" -v "$clone:/src" -w /src "$image" \
      bash -c './quickstart.sh && echo "== quickstart OK" && ./test.sh' >"$log" 2>&1 || status=1
    grep -E "^== quickstart OK|daemon stopped cleanly|passed, .* failed" "$log" || true
    ;;
esac
exit $status
