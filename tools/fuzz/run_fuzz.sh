#!/usr/bin/env bash
# Builds iterd's libFuzzer targets (tools/fuzz/*_fuzzer.cc) with clang under
# AddressSanitizer and UndefinedBehaviorSanitizer, outside Bazel, and runs each
# for a bounded time on a corpus seeded from the MXNet reference files (the
# config target: from the pipelines of examples/sample/iterd.pbtxt, opened over
# examples/sample), plus tools/fuzz/regressions/<target> (earlier findings).
#
# Usage: tools/fuzz/run_fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 60; TARGET defaults to every *_fuzzer.cc here
#   (names without the .cc, e.g. recordio_reader_fuzzer).
# Environment: FUZZ_WORK_DIR (default /tmp/iterd-fuzz) holds the binaries,
#   corpora, logs and crash files; the corpora grow across runs.
# Exit status: 0 when no target found anything, 1 on a crash, leak, timeout
#   or out-of-memory, 2 when a build fails.
set -euo pipefail

seconds="${1:-60}"
shift || true
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="${FUZZ_WORK_DIR:-/tmp/iterd-fuzz}"
mkdir -p "$work"

# libFuzzer ships in libclang-rt-14-dev; install it on a fresh machine.
probe="$work/probe.cc"
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe"
if ! command -v clang++ >/dev/null ||
   ! clang++ -fsanitize=fuzzer,address,undefined "$probe" -o "$work/probe" 2>/dev/null; then
  echo "run_fuzz: clang++ with libFuzzer missing; installing clang libclang-rt-14-dev"
  ITERD_EXTRA_PACKAGES="clang libclang-rt-14-dev" "$repo/tools/install_deps.sh"
fi

# What each target links: the recordio targets need only //common/recordio; the
# config target opens real pipelines, so it takes every library source of
# common/ and server/pipeline/, the path policy and the generated protocol.
recordio_sources=(
  common/recordio/byte_source.cc common/recordio/index.cc
  common/recordio/irheader.cc common/recordio/parts.cc
  common/recordio/reader.cc common/recordio/writer.cc
  common/io/mapped_file.cc
)
# shellcheck disable=SC2207
pipeline_sources=($(cd "$repo" && git ls-files 'common/*.cc' 'server/pipeline/*.cc' |
  grep -v -e '_test\.cc$' -e '_bench\.cc$' -e '/testing/' -e 'test_jpeg\.cc$' -e 'test_util\.cc$' -e 'reference_images\.cc$')
  server/service/path_policy.cc)
generated="$work/generated"
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -I"$repo" -I"$generated" -isystem /usr/include/opencv4)
# shellcheck disable=SC2207
absl_libs=($(pkg-config --libs absl_status absl_statusor absl_strings absl_str_format))
# shellcheck disable=SC2207
pipeline_libs=($(pkg-config --libs protobuf absl_status absl_statusor absl_strings \
  absl_str_format absl_synchronization absl_time absl_hash absl_raw_hash_set libturbojpeg \
  libjpeg zlib) -lopencv_imgcodecs -lopencv_imgproc -lopencv_core -lpthread)

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for file in "$repo"/tools/fuzz/*_fuzzer.cc; do
    targets+=("$(basename "$file" .cc)")
  done
fi

# The protocol's generated code, for the config target.
mkdir -p "$generated"
protoc -I"$repo/proto" --cpp_out="$generated" "$repo"/proto/iterd/v1/{tensor,iterator_state,pipeline,server_config,service}.proto ||
  exit 2

# Each library source is compiled once into an object shared by every target
# (recompiled when the source is newer).
compile_objects() {
  local source object
  objects=()
  mkdir -p "$work/obj"
  for source in "$@"; do
    object="$work/obj/$(echo "$source" | tr / _).o"
    if [[ ! -f "$object" || "$repo/$source" -nt "$object" ]]; then
      clang++ "${flags[@]/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}" -Wno-unused-parameter \
        -c "$repo/$source" -o "$object" || exit 2
    fi
    objects+=("$object")
  done
}

# Seeds: the reference files (.rec for the reader and IRHeader targets, whose
# records start with IRHeaders in e_/f_/g_; .idx for the index target) and a
# few hand-made inputs for the edges.
seed_corpus() {
  local target="$1" dir="$2"
  mkdir -p "$dir"
  local reference="$repo/tests/testdata/mxnet-reference"
  case "$target" in
    pipeline_config_fuzzer)
      # One OpenIterator per pipeline of the sample config, binary-encoded.
      local index=0 config
      while IFS= read -r config; do
        printf 'config { %s }' "$config" |
          protoc -I"$repo/proto" --encode=iterd.v1.OpenIterator iterd/v1/service.proto \
            >"$dir/sample_$index"
        index=$((index + 1))
      done < <(/usr/bin/python3 - "$repo/examples/sample/iterd.pbtxt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
# The body of each "config { ... }" block, on one line (braces balanced).
for start in [m.end() for m in re.finditer(r"\bconfig\s*{", text)]:
    depth, i = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    print(" ".join(text[start:i - 1].split()))
PY
      )
      ;;
    index_fuzzer)
      cp "$reference"/*.idx "$dir/"
      printf '0\t0\n1\t8\n' >"$dir/hand_two_lines"
      printf 'a\t+5\tx\n  b \t 7 \n' >"$dir/hand_odd_columns"
      printf '1 0\n2 x\n' >"$dir/hand_dmlc_stop"
      ;;
    *)
      cp "$reference"/*.rec "$dir/"
      if [[ "$target" == irheader_fuzzer ]]; then
        # The first record of each file, its part header dropped: an IRHeader
        # (e_, f_, g_) or a plain payload, with the rest of the file after it.
        for rec in "$reference"/*.rec; do
          head -c 70008 "$rec" | tail -c +9 >"$dir/record_$(basename "$rec")"
        done
      fi
      # Empty record; a split record; flag 2 IRHeader; a cut header.
      printf '\x0a\x23\xd7\xce\x00\x00\x00\x00' >"$dir/hand_empty_record"
      printf '\x0a\x23\xd7\xce\x04\x00\x00\x20abcd\x0a\x23\xd7\xce\x00\x00\x00\x60' \
        >"$dir/hand_split_record"
      printf '\x02\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00\x40jpeg' \
        >"$dir/hand_irheader_flag2"
      printf '\x0a\x23\xd7' >"$dir/hand_cut_header"
      ;;
  esac
}

failed=0
summary=()
for target in "${targets[@]}"; do
  binary="$work/$target"
  echo "run_fuzz: building $target"
  if [[ "$target" == pipeline_config_fuzzer ]]; then
    compile_objects "${pipeline_sources[@]}"
    for message in tensor iterator_state pipeline server_config service; do
      object="$work/obj/generated_$message.o"
      [[ -f "$object" && ! "$generated/iterd/v1/$message.pb.cc" -nt "$object" ]] ||
        clang++ -std=c++17 -O1 -g -fsanitize=address,undefined -I"$generated" \
          -c "$generated/iterd/v1/$message.pb.cc" -o "$object" || exit 2
      objects+=("$object")
    done
    libs=("${pipeline_libs[@]}")
    # A copy: a config may name a missing mean_img, which the pipeline creates.
    rm -rf "$work/data_root" && cp -r "$repo/examples/sample" "$work/data_root"
    export ITERD_FUZZ_DATA_ROOT="$work/data_root"
  else
    compile_objects "${recordio_sources[@]}"
    libs=("${absl_libs[@]}")
  fi
  clang++ "${flags[@]}" "$repo/tools/fuzz/$target.cc" "${objects[@]}" \
    "${libs[@]}" -o "$binary" || exit 2
  corpus="$work/corpus/$target"
  seed_corpus "$target" "$corpus"
  artifacts="$work/artifacts/$target"
  mkdir -p "$artifacts"
  log="$work/$target.log"
  echo "run_fuzz: running $target for ${seconds}s (log $log)"
  # Inputs up to 70000 bytes: large reference files are cut there, which keeps
  # runs fast yet lets an input cross the reader's 64 KiB head-scan chunk.
  status=0
  # Inputs that once found something (tools/fuzz/regressions/<target>) are
  # read with the corpus at every run, so a fixed finding stays fixed.
  regressions=()
  [[ -d "$repo/tools/fuzz/regressions/$target" ]] &&
    regressions=("$repo/tools/fuzz/regressions/$target")
  "$binary" "$corpus" "${regressions[@]}" -max_total_time="$seconds" -timeout=5 \
    -rss_limit_mb=2048 -max_len=70000 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
    grep -o '[0-9]*$' || echo "?")
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || echo "cov: ?")
  crash=$(grep -o "Test unit written to .*" "$log" | head -1 |
    sed 's/Test unit written to //' || true)
  if [[ $status -ne 0 || -n "$crash" ]]; then
    failed=1
    line="$target: $executions executions, $coverage, FOUND: ${crash:-exit $status} (see $log)"
  else
    line="$target: $executions executions, $coverage, no crashes"
  fi
  echo "run_fuzz: $line"
  summary+=("$line")
done

echo "run_fuzz: summary (${seconds}s per target, ASan+UBSan)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
