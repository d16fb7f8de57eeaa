#!/usr/bin/env bash
# Installs what is missing, builds, runs every C++ test (bazel test //...) and every Python test
# (pytest tests/python against a real daemon), and prints a last line "N passed, N failed".
# Exit status 0 only when everything passed.
set -uo pipefail
cd "$(dirname "$0")"

summary() {
  /usr/bin/python3 tools/test_summary.py "$@"
}

if ! tools/setup.sh; then
  echo "test.sh: setup or build failed"
  summary --failed-steps 1
  exit 1
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

echo "== C++ tests (bazel test //...)"
# The C++ sharded-iterator test runs a Python trainer beside a C++ one: give it the venv.
bazel test --test_env=ITERD_TEST_PYTHON="$PWD/.venv/bin/python" //... 2>&1 | tee "$logs/bazel.log"
bazel_rc=${PIPESTATUS[0]}
testlogs=$(bazel info bazel-testlogs 2>/dev/null)

echo "== Python tests (pytest tests/python)"
ITERD_BIN="$PWD/bazel-bin/server/iterd" .venv/bin/python -m pytest -q -rs -p no:cacheprovider \
  --junitxml="$logs/pytest.xml" tests/python
pytest_rc=$?

junits=(--junit "$logs/pytest.xml")
safety_rc=0
if command -v clang++ >/dev/null; then
  echo "== Thread-safety analysis (clang -Wthread-safety)"
  tools/thread_safety_check.sh "$logs/thread_safety.xml"
  safety_rc=$?
  junits+=(--junit "$logs/thread_safety.xml")
fi

summary --bazel-log "$logs/bazel.log" --testlogs "$testlogs" "${junits[@]}"
[[ $bazel_rc -eq 0 && $pytest_rc -eq 0 && $safety_rc -eq 0 ]]
