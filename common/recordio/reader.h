// File: common/recordio/reader.h
//
// RecordReader: reads the records of a .rec file in order, reassembling split
// records (cflag 1, 2..., 3) and putting back the magic the writer dropped,
// like dmlc's RecordIOReader (MXRecordIO.read). Unlike dmlc it checks the cflag
// sequence, and it can skip damage instead of failing (LevelDB's log::Reader,
// whose FULL/FIRST/MIDDLE/LAST are RecordIO's cflags 0/1/2/3).
//
// Damage a reader detects, each named in the error with file and byte offset:
// bad magic, an unknown cflag, a middle/end part where a record should start, a
// start part that never ends, a part whose length runs past the end of the
// file (a truncated record or a corrupt length), and trailing bytes too short
// for a part header (a tail that is not a multiple of 4 or a cut header).
//
// Truncated tail: with kStrict it is DataLoss, with kSkip it is reported and
// counted like any damage and the read ends. It is NOT silent end of data as
// in LevelDB's log: a .rec is written whole and then copied around, so a cut
// file is a damaged copy (and its .idx may still point past the cut), not a
// writer that died mid-append; dmlc fails on it too.
//
// Thread-safety: a RecordReader is not safe for concurrent use; give each
// thread its own reader over a shared ByteSource.
// Ownership: the reader shares ownership of its ByteSource; the Reporter is
// borrowed and must outlive the reader.

#ifndef ITERD_COMMON_RECORDIO_READER_H_
#define ITERD_COMMON_RECORDIO_READER_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/recordio/byte_source.h"

namespace iterd::recordio {

enum class CorruptionPolicy {
  // The first anomaly is absl::DataLossError naming file, offset and reason.
  // It sticks: every later Next() returns it until Seek(). MXNet's behaviour
  // (without its silent acceptance of bad cflag sequences).
  kStrict,
  // Drop the damaged record, report it, count it, and resynchronise at the
  // next 4-aligned magic followed by a cflag 0/1 header. A damaged record is
  // never merged with a neighbour, since bytes are only ever skipped.
  kSkip,
};

// Told about every stretch of bytes a kSkip reader drops.
class Reporter {
 public:
  virtual ~Reporter() = default;
  // `bytes` bytes from `offset` (where the damaged record began) were
  // skipped; `reason` is the DataLossError kStrict would have returned.
  virtual void Corruption(uint64_t offset, uint64_t bytes,
                          const absl::Status& reason) = 0;
};

inline constexpr uint64_t kToEndOfFile = std::numeric_limits<uint64_t>::max();

struct ReaderOptions {
  // Default kStrict: MXNet fails on damage, and silently losing records must
  // be asked for.
  CorruptionPolicy policy = CorruptionPolicy::kStrict;
  // Not owned; may be null (skips are still counted in stats()).
  Reporter* reporter = nullptr;
  // The reader returns the records whose first header lies in [begin_offset,
  // end_offset) (a part, see parts.h); a record starting in the range is read
  // to its end even past end_offset. begin_offset should be a record head.
  uint64_t begin_offset = 0;
  uint64_t end_offset = kToEndOfFile;
};

struct ReaderStats {
  uint64_t records = 0;        // Records returned.
  uint64_t corruptions = 0;    // Damaged stretches skipped (kSkip).
  uint64_t skipped_bytes = 0;  // Their total size.
};

class RecordReader final {
 public:
  // Memory-maps `path` (errors name it) and reads it with `options`.
  static absl::StatusOr<std::unique_ptr<RecordReader>> Open(
      const std::string& path, const ReaderOptions& options = {});

  RecordReader(std::shared_ptr<const ByteSource> source,
               const ReaderOptions& options);
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // The next record in *record, or *end_of_data = true when there is none
  // (the position is at or past the range's end or the file's). *record is
  // valid until the next Next() or Seek(): it points into the mapping or, for
  // a split record, into the reader's buffer. Errors: DataLoss (kStrict),
  // and the source's I/O errors, which are never skipped.
  absl::Status Next(absl::string_view* record, bool* end_of_data);

  // The next Next() reads the record whose first header is at `offset` (an
  // .idx value). An offset at or past the end is end of data, not an error.
  // Clears a sticky error. The range's end still applies.
  void Seek(uint64_t offset);
  // Where the next Next() looks for a header.
  uint64_t Tell() const { return position_; }
  // The first header's offset of the record Next() returned last.
  uint64_t record_offset() const { return record_offset_; }
  const ReaderStats& stats() const { return stats_; }
  const ByteSource& source() const { return *source_; }

 private:
  // A damaged record: where the damage is, why, and where a head search may
  // resume (never before it, so a skip always makes progress).
  struct Damage {
    uint64_t offset;
    std::string reason;
    uint64_t resume_from;
  };

  // Reads the record whose head is at position_. On success sets *record and
  // *next; on damage fills *damage and returns OK.
  absl::Status ReadRecord(absl::string_view* record, uint64_t* next,
                          Damage* damage);

  const std::shared_ptr<const ByteSource> source_;
  const ReaderOptions options_;
  const uint64_t end_;  // min(options_.end_offset, file size)
  uint64_t position_;
  uint64_t record_offset_ = 0;
  absl::Status sticky_error_;
  std::string scratch_;
  std::string record_buffer_;  // Reassembled split records.
  ReaderStats stats_;
};

// The first record head at or after `from` (rounded up to 4) and before
// `limit`: a 4-aligned magic whose next word has cflag 0 or 1. Returns
// min(limit, size) when there is none. Both the kSkip resync and the byte-range
// part boundaries (reference §1.5) use it. Only I/O errors.
absl::StatusOr<uint64_t> FindRecordHead(const ByteSource& source, uint64_t from,
                                        uint64_t limit);

}  // namespace iterd::recordio

#endif  // ITERD_COMMON_RECORDIO_READER_H_
