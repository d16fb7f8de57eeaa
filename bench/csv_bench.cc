// File: bench/csv_bench.cc
//
// CSV parsing throughput. Generates a CSV of 32 float columns (--size_mb),
// loads it into the page cache, then measures on the same file, best of
// --repeats:
//   (a) ceiling: a bare std::from_chars loop over the mapped file;
//   (b1) the row parser (csv::ParseBlock) over 2 MB blocks on this thread;
//   (b) csv::CsvReader on a pool of 1 worker, rows consumed in order;
//   (c) csv::CsvReader on a pool of 2 workers.
// Prints MB/s for each and (b)/(a), (b1)/(a). Target: (b) >= 0.8 (a).
//
//   bazel run -c opt //bench:csv_bench -- --size_mb=100

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/concurrency/thread_pool.h"
#include "common/csv/csv_reader.h"
#include "common/csv/row_parser.h"
#include "common/io/mapped_file.h"

ABSL_FLAG(int, size_mb, 100, "Size of the generated CSV, in MB.");
ABSL_FLAG(int, columns, 32, "Float columns per row.");
ABSL_FLAG(int, repeats, 5, "Rounds of measurements; the best is reported.");
ABSL_FLAG(std::string, dir, "",
          "Folder for the generated file (default: $TMPDIR or /tmp).");
ABSL_FLAG(bool, keep, false, "Keep the generated file (prints its path).");

namespace iterd {
namespace {

// Values like "-3.141593": the width of typical feature CSVs written with
// numpy.savetxt(fmt="%f")-like precision.
std::string Generate(const std::string& path, size_t target_bytes,
                     int columns) {
  std::mt19937 engine(42);
  std::uniform_real_distribution<float> value(-10.0f, 10.0f);
  std::ofstream out(path, std::ios::binary);
  std::string line;
  size_t written = 0;
  char buffer[32];
  while (written < target_bytes) {
    line.clear();
    for (int c = 0; c < columns; ++c) {
      const auto result =
          std::to_chars(buffer, buffer + sizeof(buffer), value(engine),
                        std::chars_format::fixed, 6);
      line.append(buffer, result.ptr);
      line.push_back(c + 1 < columns ? ',' : '\n');
    }
    out << line;
    written += line.size();
  }
  return path;
}

// Best wall time of `repeats` runs of `body`, in seconds.
double BestSeconds(int repeats, const std::function<void()>& body) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    body();
    const std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start;
    best = std::min(best, elapsed.count());
  }
  return best;
}

// Keeps results observable so the compiler cannot drop the loops.
volatile double g_sink = 0;

double ReaderSeconds(const std::string& path, int threads, int repeats,
                     int columns, int64_t* rows) {
  ThreadPool pool(threads);
  csv::CsvReaderOptions options;
  options.format.values_per_row = columns;
  return BestSeconds(repeats, [&] {
    auto reader = csv::CsvReader::Open(path, options, &pool);
    if (!reader.ok()) {
      std::fprintf(stderr, "%s\n", reader.status().ToString().c_str());
      std::exit(1);
    }
    double sum = 0;
    absl::Span<const uint8_t> row;
    bool end = false;
    while (true) {
      const absl::Status status = (*reader)->Next(&row, &end);
      if (!status.ok()) {
        std::fprintf(stderr, "%s\n", status.ToString().c_str());
        std::exit(1);
      }
      if (end) break;
      float first;
      std::memcpy(&first, row.data(), sizeof(first));
      sum += first;
    }
    *rows = (*reader)->rows_read();
    g_sink = g_sink + sum;
  });
}

int Main() {
  const int columns = absl::GetFlag(FLAGS_columns);
  const int repeats = absl::GetFlag(FLAGS_repeats);
  std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    dir = tmp != nullptr ? tmp : "/tmp";
  }
  const std::string path =
      dir + "/csv_bench_" + std::to_string(::getpid()) + ".csv";
  Generate(path, static_cast<size_t>(absl::GetFlag(FLAGS_size_mb)) << 20,
           columns);

  auto file = io::MappedFile::Open(path);
  if (!file.ok()) {
    std::fprintf(stderr, "%s\n", file.status().ToString().c_str());
    return 1;
  }
  const absl::string_view text = (*file)->contents();
  const double mb = static_cast<double>(text.size()) / (1 << 20);
  // Page-cache and map every page before any timing.
  uint64_t touch = 0;
  for (size_t i = 0; i < text.size(); i += 4096) touch += text[i];
  g_sink = g_sink + static_cast<double>(touch);

  const auto bare_body = [&] {
    const char* p = text.data();
    const char* const end = p + text.size();
    double sum = 0;
    float value = 0;
    while (p < end) {
      const auto result = std::from_chars(p, end, value);
      sum += value;
      p = result.ptr + 1;  // Skips the ',' or '\n'.
    }
    g_sink = g_sink + sum;
  };

  csv::RowFormat format;
  format.values_per_row = columns;
  int64_t direct_rows = 0;
  // Serially, in the reader's 2 MB blocks: one block for the whole file would
  // mostly measure page faults on a fresh 200 MB output buffer.
  const size_t block_size = csv::CsvReaderOptions().block_size_bytes;
  const auto direct_body = [&] {
    direct_rows = 0;
    size_t begin = 0;
    while (begin < text.size()) {
      size_t end = std::min(text.size(), begin + block_size);
      const void* newline =
          std::memchr(text.data() + end - 1, '\n', text.size() - end + 1);
      if (newline != nullptr) {
        end = static_cast<const char*>(newline) - text.data() + 1;
      }
      csv::ParsedBlock block;
      csv::ParseBlock(text.substr(begin, end - begin), format, &block);
      if (block.has_error) {
        std::fprintf(stderr, "%s\n",
                     csv::RowErrorToStatus(block.error, format, path, 0)
                         .ToString()
                         .c_str());
        std::exit(1);
      }
      direct_rows += block.num_rows;
      begin = end;
    }
  };

  int64_t rows_one = 0;
  int64_t rows_two = 0;
  // Rounds interleave the four measurements so that load from other processes
  // hits them alike; each keeps its best round.
  double bare = 1e30, direct = 1e30, one = 1e30, two = 1e30;
  for (int round = 0; round < repeats; ++round) {
    bare = std::min(bare, BestSeconds(1, bare_body));
    direct = std::min(direct, BestSeconds(1, direct_body));
    one = std::min(one, ReaderSeconds(path, 1, 1, columns, &rows_one));
    two = std::min(two, ReaderSeconds(path, 2, 1, columns, &rows_two));
  }

  std::printf("file: %.1f MB, %lld rows x %d float32 columns\n", mb,
              static_cast<long long>(direct_rows), columns);
  std::printf("(a)  bare from_chars loop, 1 thread:  %8.1f MB/s\n", mb / bare);
  std::printf(
      "(b1) ParseBlock 2MB blocks, 1 thread:            %8.1f MB/s  (%.2f of "
      "a)\n",
      mb / direct, bare / direct);
  std::printf("(b)  CsvReader, pool of 1:            %8.1f MB/s  (%.2f of a)\n",
              mb / one, bare / one);
  std::printf("(c)  CsvReader, pool of 2:            %8.1f MB/s  (%.2f of a)\n",
              mb / two, bare / two);
  if (rows_one != direct_rows || rows_two != direct_rows) {
    std::fprintf(stderr, "row counts differ: %lld %lld %lld\n",
                 static_cast<long long>(direct_rows),
                 static_cast<long long>(rows_one),
                 static_cast<long long>(rows_two));
    return 1;
  }
  if (absl::GetFlag(FLAGS_keep)) {
    std::printf("kept: %s\n", path.c_str());
  } else {
    std::filesystem::remove(path);
  }
  return 0;
}

}  // namespace
}  // namespace iterd

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return iterd::Main();
}
