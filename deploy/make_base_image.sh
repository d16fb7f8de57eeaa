#!/usr/bin/env bash
# Makes a Debian 12 (bookworm) base image in podman's local storage without a registry: builds a
# minimal root file system with debootstrap from the machine's own Debian mirror and imports it.
# No registry is reachable on this machine kind, so `FROM debian:bookworm-slim` (with
# `podman build --pull=never`) only works once this has tagged the import under that name.
#
#   deploy/make_base_image.sh [IMAGE...]
#
# IMAGE defaults to docker.io/library/debian:bookworm-slim. The first IMAGE is made once (about
# 30 s); the others are extra tags of it. Does nothing for names that already exist.
# Needs root, podman and debootstrap. Honors CONTAINERS_CONF (default: deploy/containers.conf).
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/containers.conf}"

images=("$@")
[[ ${#images[@]} -gt 0 ]] || images=(docker.io/library/debian:bookworm-slim)

fail() { echo "make_base_image: $*" >&2; exit 1; }
command -v podman >/dev/null || fail "podman is not installed (tools/install_deps.sh installs it)"

first=${images[0]}
if ! podman image exists "$first"; then
  # Reuse any of the requested names that already exists instead of running debootstrap again.
  for image in "${images[@]:1}"; do
    if podman image exists "$image"; then
      podman tag "$image" "$first"
      break
    fi
  done
fi

if ! podman image exists "$first"; then
  [[ $(id -u) -eq 0 ]] || fail "debootstrap needs root"
  command -v debootstrap >/dev/null || fail "debootstrap is not installed (tools/install_deps.sh installs it)"
  # The machine's own mirror: the only Debian archive this machine kind can reach.
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [[ -z "$mirror" && -f /etc/apt/sources.list ]]; then
    mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
  fi
  [[ -n "$mirror" ]] || fail "no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  work=$(mktemp -d /tmp/iterd-base.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  echo "make_base_image: debootstrap --variant=minbase bookworm from $mirror (log: $work/debootstrap.log)"
  if ! debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    fail "debootstrap failed (see above)"
  fi
  # Leave the .deb cache and the apt lists out: images run `apt-get update` before installing.
  if ! tar -C "$work/rootfs" -c --exclude='./var/cache/apt/archives/*.deb' \
      --exclude='./var/lib/apt/lists/*' . |
      podman import --change 'CMD ["bash"]' - "$first" >"$work/import.log" 2>&1; then
    cat "$work/import.log" >&2
    fail "podman import of the debootstrap root failed"
  fi
  echo "make_base_image: imported $first"
fi

for image in "${images[@]:1}"; do
  podman image exists "$image" || podman tag "$first" "$image"
done
