// libFuzzer target for the RecordIO reader (common/recordio/reader.h, parts.h)
// and writer encoding (writer.h). Each input is used twice:
//
// 1. As the bytes of a .rec file, read to the end with kStrict and with kSkip,
//    whole and split into 1..3 byte-range parts. Checked: no crash or hang;
//    strict errors are DataLoss naming the file and offset and are sticky;
//    kSkip never fails, returns the strict records first, and every record it
//    returns is one a strict reader returns at that offset; each record
//    re-encodes (EncodeRecord) to a file that reads back to the same bytes;
//    parts are contiguous, cover the file, and together return every record
//    of a well-formed file exactly once.
// 2. As a list of payloads (FuzzedDataProvider), encoded into a .rec: the
//    strict, skip and part readers and the indexed split all return exactly
//    those payloads, and the IndexedReader finds each by key.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/recordio/byte_source.h"
#include "common/recordio/index.h"
#include "common/recordio/parts.h"
#include "common/recordio/reader.h"
#include "common/recordio/writer.h"
#include "tools/fuzz/fuzz_check.h"

namespace iterd::recordio {
namespace {

constexpr char kFileName[] = "fuzz.rec";

struct ReadRecord {
  uint64_t offset = 0;  // First header.
  uint64_t end = 0;     // Tell() after it.
  std::string bytes;

  bool operator==(const ReadRecord& other) const {
    return offset == other.offset && end == other.end && bytes == other.bytes;
  }
};

struct ReadResult {
  std::vector<ReadRecord> records;
  absl::Status status;  // The error that stopped a strict read.
  ReaderStats stats;
};

class CountingReporter final : public Reporter {
 public:
  void Corruption(uint64_t offset, uint64_t bytes,
                  const absl::Status& reason) override {
    FUZZ_CHECK(absl::IsDataLoss(reason), reason.ToString());
    FUZZ_CHECK(offset % 4 == 0, absl::StrCat("skip at offset ", offset));
    ++corruptions;
    skipped_bytes += bytes;
  }
  uint64_t corruptions = 0;
  uint64_t skipped_bytes = 0;
};

std::shared_ptr<const ByteSource> Source(std::string contents) {
  return std::make_shared<const StringByteSource>(kFileName,
                                                  std::move(contents));
}

// Reads [begin, end) to the end of data or the first error. Every Next()
// returns a record of at least one 8-byte header or ends, so more calls than
// size / 8 + 1 would be a loop that never ends.
ReadResult ReadAll(std::shared_ptr<const ByteSource> source,
                   CorruptionPolicy policy, uint64_t begin = 0,
                   uint64_t end = kToEndOfFile) {
  const uint64_t size = source->size();
  CountingReporter reporter;
  ReaderOptions options;
  options.policy = policy;
  options.reporter = &reporter;
  options.begin_offset = begin;
  options.end_offset = end;
  RecordReader reader(source, options);
  ReadResult result;
  uint64_t previous_end = begin;
  for (uint64_t calls = 0;; ++calls) {
    FUZZ_CHECK(calls <= size / 8 + 1, "more records than headers fit");
    absl::string_view record;
    bool end_of_data = false;
    absl::Status status = reader.Next(&record, &end_of_data);
    if (!status.ok()) {
      FUZZ_CHECK(policy == CorruptionPolicy::kStrict,
                 absl::StrCat("kSkip failed: ", status.ToString()));
      FUZZ_CHECK(absl::IsDataLoss(status), status.ToString());
      FUZZ_CHECK(absl::StartsWith(status.message(), "fuzz.rec: offset "),
                 status.ToString());
      absl::string_view again;
      FUZZ_CHECK(reader.Next(&again, &end_of_data) == status,
                 "a strict error must stick");
      result.status = status;
      break;
    }
    if (end_of_data) break;
    ReadRecord read{reader.record_offset(), reader.Tell(), std::string(record)};
    FUZZ_CHECK(read.offset % 4 == 0 || read.offset == begin,
               absl::StrCat("record at unaligned offset ", read.offset));
    FUZZ_CHECK(read.offset >= previous_end,
               absl::StrCat("record at ", read.offset,
                            " overlaps the one "
                            "ending at ",
                            previous_end));
    FUZZ_CHECK(read.offset < std::min(end, size),
               absl::StrCat("record at ", read.offset, " is past the range"));
    // Each part adds an 8-byte header and drops at most a 4-byte magic, so
    // a record takes at least 8 bytes more than its payload.
    FUZZ_CHECK(read.end <= size && read.end >= read.offset + 8 + record.size(),
               absl::StrCat("record [", read.offset, ", ", read.end, ") of ",
                            record.size(), " bytes"));
    previous_end = read.end;
    result.records.push_back(std::move(read));
  }
  result.stats = reader.stats();
  FUZZ_CHECK(result.stats.records == result.records.size(), "records stat");
  FUZZ_CHECK(result.stats.corruptions == reporter.corruptions,
             "corruptions stat");
  FUZZ_CHECK(result.stats.skipped_bytes == reporter.skipped_bytes,
             "skipped_bytes stat");
  return result;
}

// A record must survive EncodeRecord and a strict read of the result.
void CheckReencodes(absl::string_view record) {
  std::string encoded;
  absl::Status status = EncodeRecord(record, &encoded);
  FUZZ_CHECK(status.ok(), status.ToString());
  FUZZ_CHECK(encoded.size() % 4 == 0, "encoded size not a multiple of 4");
  ReadResult read = ReadAll(Source(encoded), CorruptionPolicy::kStrict);
  FUZZ_CHECK(read.status.ok(), read.status.ToString());
  FUZZ_CHECK(read.records.size() == 1, "re-encoded record reads as many");
  FUZZ_CHECK(read.records[0].bytes == record, "re-encoded record differs");
  FUZZ_CHECK(read.records[0].end == encoded.size(), "re-encoded length");
}

// Every record head FindRecordHead sees, in order.
std::vector<uint64_t> AllHeads(const ByteSource& source) {
  std::vector<uint64_t> heads;
  uint64_t from = 0;
  while (true) {
    absl::StatusOr<uint64_t> head = FindRecordHead(source, from, source.size());
    FUZZ_CHECK(head.ok(), head.status().ToString());
    FUZZ_CHECK(*head >= from && *head <= source.size(), "head out of range");
    if (*head >= source.size() || source.size() - *head < 8) break;
    FUZZ_CHECK(*head % 4 == 0, "unaligned head");
    heads.push_back(*head);
    from = *head + 4;
  }
  return heads;
}

// Reads `source` as num_parts byte-range parts with `policy`; checks that the
// parts tile the file and returns their records in part order.
std::vector<ReadRecord> ReadByParts(std::shared_ptr<const ByteSource> source,
                                    int num_parts, CorruptionPolicy policy) {
  std::vector<ReadRecord> records;
  uint64_t expected_begin = 0;
  for (int part = 0; part < num_parts; ++part) {
    absl::StatusOr<PartRange> range = ByteRangePart(*source, num_parts, part);
    FUZZ_CHECK(range.ok(), range.status().ToString());
    FUZZ_CHECK(range->begin_offset == expected_begin,
               absl::StrCat("part ", part, " begins at ", range->begin_offset,
                            ", previous ended at ", expected_begin));
    FUZZ_CHECK(range->begin_offset <= range->end_offset, "inverted part");
    expected_begin = range->end_offset;
    ReadResult read =
        ReadAll(source, policy, range->begin_offset, range->end_offset);
    FUZZ_CHECK(read.status.ok(), read.status.ToString());
    for (ReadRecord& record : read.records) {
      records.push_back(std::move(record));
    }
  }
  FUZZ_CHECK(expected_begin == source->size(), "parts do not reach the end");
  return records;
}

void CheckRawFile(const std::string& contents) {
  std::shared_ptr<const ByteSource> source = Source(contents);
  ReadResult strict = ReadAll(source, CorruptionPolicy::kStrict);
  ReadResult skip = ReadAll(source, CorruptionPolicy::kSkip);

  // kSkip agrees with kStrict up to the first damage.
  FUZZ_CHECK(skip.records.size() >= strict.records.size(), "skip lost records");
  for (size_t i = 0; i < strict.records.size(); ++i) {
    FUZZ_CHECK(skip.records[i] == strict.records[i],
               absl::StrCat("record ", i, " differs between policies"));
  }
  if (strict.status.ok()) {
    FUZZ_CHECK(skip.records.size() == strict.records.size() &&
                   skip.stats.corruptions == 0,
               "kSkip found damage kStrict did not");
  } else {
    FUZZ_CHECK(skip.stats.corruptions >= 1, "kSkip missed the damage");
  }

  // Every kSkip record is a record, not a merge: a strict reader at its
  // offset returns the same bytes. Records and skips never overlap.
  uint64_t consumed = skip.stats.skipped_bytes;
  for (const ReadRecord& record : skip.records) {
    ReadResult at = ReadAll(source, CorruptionPolicy::kStrict, record.offset,
                            record.offset + 1);
    FUZZ_CHECK(at.records.size() == 1 && at.records[0] == record,
               absl::StrCat("kSkip record at ", record.offset,
                            " is not what a strict reader reads there"));
    consumed += record.end - record.offset;
    CheckReencodes(record.bytes);
  }
  FUZZ_CHECK(
      consumed <= contents.size(),
      absl::StrCat(consumed, " bytes read or skipped of ", contents.size()));

  if (contents.size() % 4 != 0) return;  // Not splittable (DataLoss).
  // A file whose heads are exactly its records (no head-like bytes inside a
  // record, which a writer never produces) must split without loss.
  std::vector<uint64_t> record_offsets;
  for (const ReadRecord& record : strict.records) {
    record_offsets.push_back(record.offset);
  }
  const bool well_formed =
      strict.status.ok() && AllHeads(*source) == record_offsets;
  for (int num_parts = 1; num_parts <= 3; ++num_parts) {
    std::vector<ReadRecord> parts =
        ReadByParts(source, num_parts, CorruptionPolicy::kSkip);
    if (num_parts == 1) {
      FUZZ_CHECK(parts == skip.records, "one part is not the whole file");
    }
    if (well_formed) {
      FUZZ_CHECK(parts == strict.records,
                 absl::StrCat(num_parts,
                              " parts do not return each record "
                              "exactly once"));
    }
  }
}

// Input 2: payloads -> .rec -> every reader returns them.
void CheckWrittenFile(const uint8_t* data, size_t size) {
  FuzzedDataProvider provider(data, size);
  std::vector<std::string> payloads;
  std::string file;
  std::string index_text;
  std::vector<uint64_t> offsets;
  while (provider.remaining_bytes() > 0 && payloads.size() < 64) {
    std::string payload = provider.ConsumeRandomLengthString(1 << 16);
    // Escaping is the tricky part: plant magics at aligned offsets often.
    if (provider.ConsumeBool()) {
      const size_t at =
          4 * provider.ConsumeIntegralInRange<size_t>(0, payload.size() / 4);
      payload.insert(at, "\x0a\x23\xd7\xce", 4);
    }
    offsets.push_back(file.size());
    absl::StrAppend(&index_text, FormatIndexLine(absl::StrCat(payloads.size()),
                                                 file.size()));
    absl::Status status = EncodeRecord(payload, &file);
    FUZZ_CHECK(status.ok(), status.ToString());
    payloads.push_back(std::move(payload));
  }
  std::shared_ptr<const ByteSource> source = Source(file);
  auto check_payloads = [&](const std::vector<ReadRecord>& records,
                            const std::string& what) {
    FUZZ_CHECK(records.size() == payloads.size(),
               absl::StrCat(what, ": ", records.size(), " records of ",
                            payloads.size()));
    for (size_t i = 0; i < records.size(); ++i) {
      FUZZ_CHECK(
          records[i].bytes == payloads[i] && records[i].offset == offsets[i],
          absl::StrCat(what, ": record ", i, " differs"));
    }
  };
  for (CorruptionPolicy policy :
       {CorruptionPolicy::kStrict, CorruptionPolicy::kSkip}) {
    ReadResult read = ReadAll(source, policy);
    FUZZ_CHECK(read.status.ok() && read.stats.corruptions == 0,
               "a written file is damaged");
    check_payloads(read.records, "whole file");
  }
  for (int num_parts = 1; num_parts <= 3; ++num_parts) {
    check_payloads(ReadByParts(source, num_parts, CorruptionPolicy::kStrict),
                   absl::StrCat(num_parts, " byte-range parts"));
    std::vector<ReadRecord> records;
    for (int part = 0; part < num_parts; ++part) {
      absl::StatusOr<IndexedPart> indexed =
          IndexedRecordPart(offsets, file.size(), num_parts, part);
      FUZZ_CHECK(indexed.ok(), indexed.status().ToString());
      ReadResult read =
          ReadAll(source, CorruptionPolicy::kStrict,
                  indexed->range.begin_offset, indexed->range.end_offset);
      FUZZ_CHECK(
          read.records.size() == indexed->end_record - indexed->first_record,
          "indexed part record count");
      for (ReadRecord& record : read.records) {
        records.push_back(std::move(record));
      }
    }
    check_payloads(records, absl::StrCat(num_parts, " indexed parts"));
  }
  absl::StatusOr<RecordIndex> index =
      RecordIndex::Parse(index_text, "fuzz.idx");
  FUZZ_CHECK(index.ok(), index.status().ToString());
  IndexedReader indexed_reader(source, *std::move(index));
  for (size_t i = payloads.size(); i-- > 0;) {  // Backwards: random access.
    absl::string_view record;
    bool end_of_data = false;
    absl::Status status =
        indexed_reader.Read(static_cast<int64_t>(i), &record, &end_of_data);
    FUZZ_CHECK(status.ok() && !end_of_data && record == payloads[i],
               absl::StrCat("read_idx(", i, "): ", status.ToString()));
  }
}

}  // namespace
}  // namespace iterd::recordio

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iterd::recordio::CheckRawFile(
      std::string(reinterpret_cast<const char*>(data), size));
  iterd::recordio::CheckWrittenFile(data, size);
  return 0;
}
