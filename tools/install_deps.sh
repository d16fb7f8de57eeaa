#!/usr/bin/env bash
# Installs the Debian 12 packages iterd needs to build, test and run, when any is missing.
# Runs apt-get as root (directly, or through sudo). Safe to run again: it does nothing when all
# packages are present. Set ITERD_EXTRA_PACKAGES to add packages (space-separated) and
# ITERD_SKIP_PACKAGES to leave some out.
set -euo pipefail

packages=(
  # Build
  bazel-bootstrap bazel-skylib bazel-rules-cc bazel-platforms pkg-config g++ git ca-certificates
  # Libraries (Debian's gRPC 1.51, protobuf 3.21, Abseil 20220623, OpenCV 4.6, libjpeg-turbo 2.1)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev zlib1g-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
  # Python client and tests (Debian's /usr/bin/python3)
  python3 python3-grpcio python3-protobuf python3-numpy python3-pytest python3-venv python3-pip
  python3-setuptools python3-wheel python3-opencv
  # Used by the test and quick-start scripts; clang for the thread-safety analysis (house rule 11);
  # curl fetches the Abseil sources the TSan phase instruments (tools/sanitizer_tests.sh)
  procps clang curl
  # Certificates for the TLS tests and the container smoke test (tests/python/test_security.py)
  openssl
  # Container image (deploy/Dockerfile) and its smoke test (deploy/container_smoke.sh): podman with
  # runc (see deploy/containers.conf), debootstrap for the base image, iptables for port publishing
  podman buildah runc debootstrap iptables
  # Kubernetes manifests (deploy/k8s): kubectl kustomize, and node/npm for the offline schema check
  # (tools/lint); PyYAML to inspect the rendered objects; matplotlib draws the tutorial's figures
  kubernetes-client nodejs npm python3-yaml python3-matplotlib
)
# shellcheck disable=SC2206
packages+=(${ITERD_EXTRA_PACKAGES:-})
# ITERD_SKIP_PACKAGES (space-separated) leaves packages out: deploy/Dockerfile's build stage skips
# the test and container tools it does not need.
for skip in ${ITERD_SKIP_PACKAGES:-}; do
  for index in "${!packages[@]}"; do
    [[ "${packages[$index]}" != "$skip" ]] || unset "packages[$index]"
  done
done

# Packages that stand for a command: a machine that has the command from elsewhere (NodeSource's
# nodejs bundles npm and conflicts with Debian's; a newer kubectl) keeps it.
declare -A command_of=([nodejs]=node [npm]=npm [kubernetes-client]=kubectl)

missing=()
for package in "${packages[@]}"; do
  command=${command_of[$package]:-}
  if [[ -n "$command" ]] && command -v "$command" >/dev/null; then continue; fi
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install_deps: run as root (or install sudo)" >&2; exit 1; }
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
