#!/usr/bin/env bash
# Installs what is missing, builds (-c opt), runs every C++ test (bazel test //...) and every Python
# test (pytest tests/python against a real daemon), then the C++ tests once more under
# AddressSanitizer + UndefinedBehaviorSanitizer and the concurrency tests under ThreadSanitizer
# (tools/sanitizer_tests.sh; ITERD_SANITIZERS=0 leaves them out), and prints a last line
# "N passed, N failed". Exit status 0 only when everything passed.
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

runs=(--bazel-run "$logs/bazel.log:$testlogs")
sanitizer_rc=0
if [[ ${ITERD_SANITIZERS:-1} != 0 ]]; then
  for mode in asan tsan; do
    echo "== C++ tests under ${mode^^} (tools/sanitizer_tests.sh $mode)"
    tools/sanitizer_tests.sh "$mode" "$logs/$mode.log" >"$logs/$mode.out"
    rc=$?
    grep -v "^$logs/$mode.log:" "$logs/$mode.out" | tail -n 25
    runs+=(--bazel-run "$(tail -n 1 "$logs/$mode.out")")
    [[ $rc -eq 0 ]] || sanitizer_rc=$rc
  done
fi

summary "${runs[@]}" "${junits[@]}"
[[ $bazel_rc -eq 0 && $pytest_rc -eq 0 && $safety_rc -eq 0 && $sanitizer_rc -eq 0 ]]
