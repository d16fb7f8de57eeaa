#!/usr/bin/env bash
# Runs the C++ tests under a sanitizer, in output directories of their own (.bazelrc's asan/tsan
# configs), so the plain -c opt binaries that bazel-bin points at stay as they are.
#
#   tools/sanitizer_tests.sh asan LOG   every C++ test under AddressSanitizer + UndefinedBehaviorSanitizer
#   tools/sanitizer_tests.sh tsan LOG   the concurrency tests under ThreadSanitizer
#
# Writes the `bazel test` output to LOG and prints "LOG:TESTLOGS" as the last line, the form
# tools/test_summary.py's --bazel-run takes. Exit status: bazel's.
#
# ThreadSanitizer only sees the synchronisation of instrumented code, and Debian's Abseil is not
# instrumented: every absl::Mutex would look like no lock at all. So the TSan run links, in front of
# Debian's libabsl_synchronization, the same Abseil release's synchronisation sources compiled with
# -fsanitize=thread (Debian's source tarball of the installed package, checked by its SHA-256, built
# once into $ITERD_CACHE_DIR, default ~/.cache/iterd). Abseil's own internals are left out of the
# reports (tools/tsan_suppressions.txt); races in iterd's code are reported.
set -uo pipefail
cd "$(dirname "$0")/.."

mode=${1:?usage: tools/sanitizer_tests.sh asan|tsan LOG}
log=${2:?usage: tools/sanitizer_tests.sh asan|tsan LOG}

# Tests whose subject is concurrency and that use no gRPC (Debian's gRPC is not instrumented either).
tsan_targets=(
  //common/concurrency:thread_pool_test
  //common/concurrency:parallel_for_test
  //common/csv:csv_reader_test
  //common/tensor:payload_pool_test
  //common/tensor:payload_pool_region_test
  //server/pipeline:prefetcher_test
  //server/pipeline:batcher_test
  //server/pipeline:image_record_source_test
  //server/service:iterator_registry_test
  //server/service:shared_memory_session_test
  //server/security:token_store_test
  //tools/im2rec:ordered_pipeline_test
)

abseil_version=20220623.1
abseil_sha256=abfe2897f3a30edaa74bc34365afe3c2a3cd012091a97dc7e008f7016adcd5fe
abseil_url=http://deb.debian.org/debian/pool/main/a/abseil/abseil_${abseil_version}.orig.tar.gz

# Prints the path of the TSan-instrumented Abseil synchronisation archive, building it if needed.
tsan_abseil() {
  local cache=${ITERD_CACHE_DIR:-$HOME/.cache/iterd}/abseil-tsan-$abseil_version
  local archive=$cache/libabsl_synchronization_tsan.a
  if [[ -f $archive ]]; then
    echo "$archive"
    return 0
  fi
  mkdir -p "$cache" || return 1
  local tarball=$cache/abseil.orig.tar.gz
  if ! echo "$abseil_sha256  $tarball" | sha256sum --check --status 2>/dev/null; then
    curl -fsSL -o "$tarball" "$abseil_url" || return 1
    echo "$abseil_sha256  $tarball" | sha256sum --check --status || {
      echo "sanitizer_tests: $abseil_url does not have the expected SHA-256" >&2
      return 1
    }
  fi
  tar -xzf "$tarball" -C "$cache" || return 1
  local source=$cache/abseil-$abseil_version objects=()
  # Compiled against the installed headers (Debian's options.h and inline namespace), so the
  # objects replace the library's symbols one for one.
  for file in synchronization/mutex.cc synchronization/barrier.cc \
      synchronization/blocking_counter.cc synchronization/notification.cc \
      synchronization/internal/per_thread_sem.cc synchronization/internal/waiter.cc \
      synchronization/internal/create_thread_identity.cc synchronization/internal/graphcycles.cc \
      base/internal/spinlock.cc base/internal/spinlock_wait.cc base/internal/thread_identity.cc \
      base/internal/low_level_alloc.cc base/internal/cycleclock.cc base/internal/sysinfo.cc; do
    local object=$cache/$(echo "$file" | tr / _).o
    g++ -std=c++17 -O1 -g -fPIC -fsanitize=thread -c "$source/absl/$file" -o "$object" || return 1
    objects+=("$object")
  done
  ar rcs "$archive.tmp" "${objects[@]}" && mv "$archive.tmp" "$archive" || return 1
  echo "$archive"
}

flags=(--experimental_convenience_symlinks=ignore)
case "$mode" in
  asan)
    targets=(//...)
    # As in test.sh: the C++ sharded-iterator test runs a Python trainer beside a C++ one.
    flags+=(--config=asan "--test_env=ITERD_TEST_PYTHON=$PWD/.venv/bin/python")
    ;;
  tsan)
    targets=("${tsan_targets[@]}")
    archive=$(tsan_abseil) || {
      echo "sanitizer_tests: could not build the instrumented Abseil" | tee "$log"
      exit 1
    }
    flags+=(--config=tsan
      "--linkopt=-Wl,--whole-archive" "--linkopt=$archive" "--linkopt=-Wl,--no-whole-archive"
      "--test_env=TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tools/tsan_suppressions.txt")
    ;;
  *)
    echo "sanitizer_tests: unknown mode '$mode' (asan or tsan)" >&2
    exit 2
    ;;
esac

bazel test "${flags[@]}" "${targets[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
echo "$log:$(bazel info "${flags[@]}" bazel-testlogs 2>/dev/null)"
exit "$rc"
