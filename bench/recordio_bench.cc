// File: bench/recordio_bench.cc
//
// RecordIO read throughput against memcpy, measured in one run on one core.
// Writes (to --dir) a .rec/.idx of --size_mb of --record_kb random records
// and a second pair of --small_records records of --small_bytes, page-caches
// both, then reports, best of --repeats:
//   memcpy:     (m1) the .rec's bytes copied in record-sized chunks from the
//               mapping into one reused buffer; (m2) one memcpy between two
//               large heap buffers of the file's size.
//   sequential: RecordReader over the page-cached mapping, each record copied
//               into a reused buffer (what a consumer does at least once),
//               GB/s, records/s and the ratio to (m1) and (m2) (target:
//               >= 50%); also without the copy (views only), and with a fresh
//               mapping per pass (RecordReader::Open, so page faults count)
//               next to (m1) on a fresh mapping.
//   indexed:    IndexedReader::Read(random integer key), records/s, for the
//               large and the small records, views only and with the copy
//               (target: >= 100k records/s per core).
//
//   bazel build -c opt //bench:recordio_bench && bazel-bin/bench/recordio_bench

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/io/mapped_file.h"
#include "common/recordio/byte_source.h"
#include "common/recordio/index.h"
#include "common/recordio/reader.h"
#include "common/recordio/writer.h"

ABSL_FLAG(int, size_mb, 400, "Size of the large-record .rec, in MB.");
ABSL_FLAG(int, record_kb, 100, "Size of each large record, in KB (1000).");
ABSL_FLAG(int, small_records, 500000, "Records in the small-record .rec.");
ABSL_FLAG(int, small_bytes, 200, "Size of each small record, in bytes.");
ABSL_FLAG(int, lookups, 1000000, "Random keys per indexed-read pass.");
ABSL_FLAG(int, repeats, 5, "Rounds of measurements; the best is reported.");
ABSL_FLAG(std::string, dir, "",
          "Folder for the generated files (default: $TMPDIR or /tmp).");
ABSL_FLAG(bool, keep, false, "Keep the generated files (prints their paths).");

namespace iterd {
namespace {

using recordio::IndexedReader;
using recordio::RecordReader;

// Makes the compiler assume `pointer`'s memory is read, so copies into a
// reused buffer are not optimised away (benchmark::DoNotOptimize).
inline void Escape(const void* pointer) {
  asm volatile("" : : "g"(pointer) : "memory");
}

void Check(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "recordio_bench: %s: %s\n", what,
               status.ToString().c_str());
  std::exit(1);
}

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

// `count` records of `bytes` random bytes, keys 0..count-1. Returns the .rec
// size.
uint64_t WriteRecords(const std::string& rec_path, const std::string& idx_path,
                      int64_t count, size_t bytes) {
  auto writer = recordio::IndexedRecordWriter::Create(rec_path, idx_path);
  Check(writer.status(), "create");
  std::mt19937_64 engine(42);
  std::string record(bytes, '\0');
  for (int64_t key = 0; key < count; ++key) {
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
      const uint64_t word = engine();
      std::memcpy(&record[i], &word, 8);
    }
    Check((*writer)->Write(absl::StrCat(key), record), "write");
  }
  const uint64_t size = (*writer)->Tell();
  Check((*writer)->Close(), "close");
  return size;
}

// Reads every byte of `mapping` once: page cache and page tables warm.
void Touch(const io::MappedFile& mapping) {
  uint64_t sum = 0;
  for (size_t i = 0; i < mapping.size(); i += 4096) sum += mapping.data()[i];
  Escape(&sum);
}

// (m1): `chunk`-byte copies of the mapping into one reused buffer.
void ChunkedCopy(const io::MappedFile& mapping, size_t chunk,
                 std::string* buffer) {
  buffer->resize(chunk);
  for (size_t offset = 0; offset < mapping.size(); offset += chunk) {
    const size_t length = std::min(chunk, mapping.size() - offset);
    std::memcpy(buffer->data(), mapping.data() + offset, length);
    Escape(buffer->data());
  }
}

// One pass of `reader` to the end; copies each record into *buffer unless
// null. Returns the number of records.
uint64_t ReadToEnd(RecordReader* reader, std::string* buffer) {
  uint64_t records = 0;
  while (true) {
    absl::string_view record;
    bool end_of_data = false;
    Check(reader->Next(&record, &end_of_data), "read");
    if (end_of_data) return records;
    ++records;
    if (buffer != nullptr) {
      if (buffer->size() < record.size()) buffer->resize(record.size());
      std::memcpy(buffer->data(), record.data(), record.size());
    }
    Escape(buffer != nullptr ? buffer->data() : record.data());
  }
}

void PrintRate(const char* name, double seconds, uint64_t bytes,
               uint64_t records, double reference_gbps = 0,
               const char* reference = "") {
  const double gbps = bytes / seconds / 1e9;
  std::printf("  %-44s %7.2f GB/s %12.0f records/s", name, gbps,
              records / seconds);
  if (reference_gbps > 0) {
    std::printf("  %5.1f%% of %s", 100 * gbps / reference_gbps, reference);
  }
  std::printf("\n");
}

// Random-key IndexedReader reads over `rec_path`, views only and copied.
void BenchIndexed(const char* label, const std::string& rec_path,
                  const std::string& idx_path, int64_t records, int lookups,
                  int repeats) {
  auto reader = IndexedReader::Open(rec_path, idx_path);
  Check(reader.status(), "open indexed");
  std::mt19937_64 engine(7);
  std::uniform_int_distribution<int64_t> pick(0, records - 1);
  std::vector<int64_t> keys(lookups);
  for (int64_t& key : keys) key = pick(engine);
  std::string buffer;
  uint64_t bytes = 0;
  auto pass = [&](bool copy) {
    bytes = 0;
    for (int64_t key : keys) {
      absl::string_view record;
      bool end_of_data = false;
      Check((*reader)->Read(key, &record, &end_of_data), "read_idx");
      bytes += record.size();
      if (copy) {
        if (buffer.size() < record.size()) buffer.resize(record.size());
        std::memcpy(buffer.data(), record.data(), record.size());
      }
      Escape(copy ? buffer.data() : record.data());
    }
  };
  pass(true);  // Warm: every page of the mapping faulted in.
  const double views = BestSeconds(repeats, [&] { pass(false); });
  const double copies = BestSeconds(repeats, [&] { pass(true); });
  std::printf("  %s, random key, view only:%*s %7.2f GB/s %12.0f records/s\n",
              label, static_cast<int>(20 - std::strlen(label)), "",
              bytes / views / 1e9, lookups / views);
  std::printf("  %s, random key, + copy:%*s %7.2f GB/s %12.0f records/s\n",
              label, static_cast<int>(23 - std::strlen(label)), "",
              bytes / copies / 1e9, lookups / copies);
}

int Run() {
  const int repeats = absl::GetFlag(FLAGS_repeats);
  const size_t record_bytes = size_t{1000} * absl::GetFlag(FLAGS_record_kb);
  const int64_t large_records = std::max<int64_t>(
      1, int64_t{1000000} * absl::GetFlag(FLAGS_size_mb) / record_bytes);
  const int64_t small_records = absl::GetFlag(FLAGS_small_records);
  const size_t small_bytes = absl::GetFlag(FLAGS_small_bytes);

  std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    dir = tmp != nullptr ? tmp : "/tmp";
  }
  dir = absl::StrCat(dir, "/recordio_bench.", getpid());
  std::filesystem::create_directories(dir);
  const std::string large_rec = dir + "/large.rec";
  const std::string large_idx = dir + "/large.idx";
  const std::string small_rec = dir + "/small.rec";
  const std::string small_idx = dir + "/small.idx";

  const auto write_start = std::chrono::steady_clock::now();
  const uint64_t large_size =
      WriteRecords(large_rec, large_idx, large_records, record_bytes);
  const std::chrono::duration<double> write_seconds =
      std::chrono::steady_clock::now() - write_start;
  const uint64_t small_size =
      WriteRecords(small_rec, small_idx, small_records, small_bytes);
  std::printf("recordio_bench: %s\n", dir.c_str());
  std::printf(
      "  large: %lld records of %zu bytes, %.1f MB "
      "(written incl. generation at %.2f GB/s)\n",
      static_cast<long long>(large_records), record_bytes, large_size / 1e6,
      large_size / write_seconds.count() / 1e9);
  std::printf("  small: %lld records of %zu bytes, %.1f MB\n",
              static_cast<long long>(small_records), small_bytes,
              small_size / 1e6);

  auto mapping = io::MappedFile::Open(large_rec);
  Check(mapping.status(), "map");
  Touch(**mapping);
  const uint64_t payload_bytes = uint64_t(large_records) * record_bytes;

  std::printf("memcpy (same bytes, this core):\n");
  std::string buffer;
  const double chunked = BestSeconds(
      repeats, [&] { ChunkedCopy(**mapping, record_bytes, &buffer); });
  const double chunked_gbps = large_size / chunked / 1e9;
  PrintRate("(m1) record-sized chunks, mapping -> buffer", chunked, large_size,
            large_records);
  double plain_gbps = 0;
  {
    std::vector<char> source((*mapping)->data(),
                             (*mapping)->data() + (*mapping)->size());
    std::vector<char> target(source.size(), 1);
    const double plain = BestSeconds(repeats, [&] {
      std::memcpy(target.data(), source.data(), source.size());
      Escape(target.data());
    });
    plain_gbps = large_size / plain / 1e9;
    PrintRate("(m2) one memcpy, heap -> heap", plain, large_size,
              large_records);
  }

  std::printf("sequential RecordReader (payload bytes):\n");
  auto source =
      recordio::OpenMappedByteSource(large_rec, io::AccessPattern::kSequential);
  Check(source.status(), "open");
  uint64_t records_read = 0;
  const double copied = BestSeconds(repeats, [&] {
    RecordReader reader(*source, {});
    records_read = ReadToEnd(&reader, &buffer);
  });
  if (records_read != uint64_t(large_records)) {
    std::fprintf(stderr, "recordio_bench: read %llu records of %lld\n",
                 static_cast<unsigned long long>(records_read),
                 static_cast<long long>(large_records));
    return 1;
  }
  PrintRate("+ copy to buffer, vs (m1)", copied, payload_bytes, large_records,
            chunked_gbps, "m1");
  PrintRate("+ copy to buffer, vs (m2)", copied, payload_bytes, large_records,
            plain_gbps, "m2");
  const double views = BestSeconds(repeats, [&] {
    RecordReader reader(*source, {});
    ReadToEnd(&reader, nullptr);
  });
  PrintRate("views only (no byte touched)", views, payload_bytes,
            large_records);
  const double fresh_copy = BestSeconds(repeats, [&] {
    auto fresh = io::MappedFile::Open(large_rec);
    Check(fresh.status(), "map");
    ChunkedCopy(**fresh, record_bytes, &buffer);
  });
  PrintRate("(m1) on a fresh mapping per pass", fresh_copy, large_size,
            large_records);
  const double fresh_read = BestSeconds(repeats, [&] {
    auto reader = RecordReader::Open(large_rec);
    Check(reader.status(), "open");
    ReadToEnd(reader->get(), &buffer);
  });
  PrintRate("RecordReader::Open per pass + copy", fresh_read, payload_bytes,
            large_records, large_size / fresh_copy / 1e9, "fresh m1");

  std::printf("indexed random reads (one thread):\n");
  const int lookups = absl::GetFlag(FLAGS_lookups);
  BenchIndexed("large", large_rec, large_idx, large_records,
               std::min<int64_t>(lookups, 20 * large_records), repeats);
  BenchIndexed("small", small_rec, small_idx, small_records, lookups, repeats);

  if (absl::GetFlag(FLAGS_keep)) {
    std::printf("kept %s\n", dir.c_str());
  } else {
    std::filesystem::remove_all(dir);
  }
  return 0;
}

}  // namespace
}  // namespace iterd

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return iterd::Run();
}
