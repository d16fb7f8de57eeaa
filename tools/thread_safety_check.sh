#!/usr/bin/env bash
# Clang's thread-safety analysis over every non-test C++ source (house rule 11: gcc ignores the
# ABSL_GUARDED_BY / ABSL_EXCLUSIVE_LOCKS_REQUIRED annotations). Needs the generated protocol
# headers (bazel build //proto:iterd_v1_cc).
#
#   tools/thread_safety_check.sh [JUNIT_XML]
#
# Prints each warning, exits 1 if there is any. With JUNIT_XML, also writes the result as one
# JUnit test case for tools/test_summary.py.
set -uo pipefail
cd "$(dirname "$0")/.."
junit=${1:-}
proto_include=$(bazel info bazel-bin 2>/dev/null)/proto

output=$(mktemp)
trap 'rm -f "$output"' EXIT
# tools/fuzz is left out: its targets need libFuzzer's headers and are built (with clang and the
# sanitizers) by tools/fuzz/run_fuzz.sh.
files=$(git ls-files 'common/*.cc' 'server/*.cc' 'client/cpp/*.cc' 'tools/*.cc' |
  grep -v '_test\.cc$' | grep -v '^tools/fuzz/')
for file in $files; do
  clang++ -std=c++17 -fsyntax-only -Wthread-safety -Werror=thread-safety \
    -I. -I"$proto_include" -isystem /usr/include/opencv4 "$file" >>"$output" 2>&1
done
count=$(grep -c "warning\|error" "$output" || true)
cat "$output"
echo "thread_safety_check: $(echo "$files" | wc -w) files, $count findings"

if [[ -n "$junit" ]]; then
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<testsuite name="thread_safety_check" tests="1">'
    echo '  <testcase classname="clang" name="thread_safety_analysis">'
    [[ $count -eq 0 ]] || echo "    <failure message=\"$count findings\"/>"
    echo '  </testcase>'
    echo '</testsuite>'
  } >"$junit"
fi
[[ $count -eq 0 ]]
