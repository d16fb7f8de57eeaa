#!/usr/bin/env bash
# Renders iterd's Kubernetes manifests with `kubectl kustomize` and validates every object against
# the Kubernetes 1.27 schemas (tools/lint/k8s-validate.js), offline: no cluster, no API server.
# The examples' custom resources (cert-manager Issuer/Certificate, prometheus-operator
# ServiceMonitor) are checked against their CRDs' schemas.
#
#   tools/lint/validate_k8s.sh               # base, every overlay, deploy/k8s/examples/*.yaml
#   tools/lint/validate_k8s.sh DIR|FILE ...  # kustomization directories and/or plain manifests
#
# Installs the pinned npm packages (tools/lint/package-lock.json) into tools/lint/node_modules when
# they are missing. KUBECTL=/path/to/kubectl picks the kubectl (default: the one on PATH; both
# kubectl 1.32 and Debian 12's kubernetes-client 1.20 render these manifests).
# Exit status: 0 all valid, 1 a render failed or an object is invalid, 3 kubectl/node/npm missing.
set -uo pipefail

lint_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$lint_dir/../.." && pwd)
kubectl=${KUBECTL:-kubectl}

missing() {
  echo "validate_k8s: $1 not found: $2" >&2
  exit 3
}
command -v "$kubectl" >/dev/null || missing "$kubectl" "apt-get install kubernetes-client"
command -v node >/dev/null || missing node "apt-get install nodejs npm"

# Every package of package.json (an older checkout's node_modules may lack the CRD schemas).
installed=1
for package in kubernetes-models yaml @kubernetes-models/cert-manager \
               @kubernetes-models/prometheus-operator; do
  [[ -f "$lint_dir/node_modules/$package/package.json" ]] || installed=0
done
if [[ $installed == 0 ]]; then
  command -v npm >/dev/null || missing npm "apt-get install npm"
  echo "validate_k8s: installing kubernetes-models, its cert-manager and prometheus-operator" \
    "schemas and yaml into $lint_dir/node_modules (npm ci)"
  # Trust the system's CA store as apt and pip do (a network whose TLS goes through a proxy with
  # its own CA installs that CA there), not only node's bundled list.
  if [[ -z "${NODE_EXTRA_CA_CERTS:-}" && -f /etc/ssl/certs/ca-certificates.crt ]]; then
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  fi
  if ! npm ci --prefix "$lint_dir" --no-audit --no-fund --loglevel=error >&2; then
    echo "validate_k8s: npm ci failed (is the npm registry reachable?)" >&2
    exit 3
  fi
fi

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=("$repo/deploy/k8s/base")
  for overlay in "$repo"/deploy/k8s/overlays/*/; do targets+=("${overlay%/}"); done
  for example in "$repo"/deploy/k8s/examples/*.yaml; do
    [[ -f "$example" ]] && targets+=("$example")
  done
fi

kubectl_version=$("$kubectl" version --client 2>/dev/null | head -1)
echo "validate_k8s: $kubectl_version"
rendered=$(mktemp)
warnings=$(mktemp)
trap 'rm -f "$rendered" "$warnings"' EXIT

failures=0
for target in "${targets[@]}"; do
  label=${target#"$repo"/}
  if [[ -d "$target" ]]; then
    if ! "$kubectl" kustomize "$target" >"$rendered" 2>"$warnings"; then
      echo "== $label: kubectl kustomize FAILED"
      sed 's/^/   /' "$warnings"
      failures=$((failures + 1))
      continue
    fi
    echo "== $label (kubectl kustomize)"
    # kustomize v5 warns about the v2-compatible fields (bases, patchesStrategicMerge): shown, not
    # failures.
    grep -v '^\s*$' "$warnings" | sed 's/^/   note: /'
    source_file=$rendered
  elif [[ -f "$target" ]]; then
    echo "== $label"
    source_file=$target
  else
    echo "== $label: no such file or directory"
    failures=$((failures + 1))
    continue
  fi
  if ! node "$lint_dir/k8s-validate.js" "$source_file" | sed 's/^/   /'; then
    failures=$((failures + 1))
  fi
done

if [[ $failures -ne 0 ]]; then
  echo "validate_k8s: $failures of ${#targets[@]} targets INVALID"
  exit 1
fi
echo "validate_k8s: all ${#targets[@]} targets valid"
