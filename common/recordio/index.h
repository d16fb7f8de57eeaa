// File: common/recordio/index.h
//
// The .idx file of MXIndexedRecordIO: text, one line per record in write
// order, "<key>\t<offset>\n", offset being the record's first header in the
// .rec. RecordIndex parses it as Python does; DmlcIndexOffsets as dmlc's
// indexed_recordio split does; IndexedReader reads records by key.
//
// Thread-safety: RecordIndex is immutable after Parse/Load (share it freely).
// IndexedReader is not safe for concurrent use (one per thread; they can share
// a ByteSource).

#ifndef ITERD_COMMON_RECORDIO_INDEX_H_
#define ITERD_COMMON_RECORDIO_INDEX_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/recordio/byte_source.h"
#include "common/recordio/reader.h"

namespace iterd::recordio {

struct IndexEntry {
  std::string key;  // As written (Python's str(key)).
  // The key read as an integer (Python's key_type=int), if it is one.
  std::optional<int64_t> integer_key;
  uint64_t offset = 0;
};

class RecordIndex final {
 public:
  // Python's rule: each line is stripped and split on TAB; column 0 is the
  // key, column 1 the offset, further columns are ignored. InvalidArgument
  // naming `name` and the line number for a line without a TAB or with an
  // offset that is not a non-negative integer (Python raises there too).
  static absl::StatusOr<RecordIndex> Parse(absl::string_view text,
                                           absl::string_view name);
  static absl::StatusOr<RecordIndex> Load(const std::string& path);

  // File order, duplicates kept (Python's `keys`).
  const std::vector<IndexEntry>& entries() const { return entries_; }
  std::vector<std::string> keys() const;
  // The offset of `key`; a repeated key maps to its last line (Python's dict).
  // NotFound naming the key.
  absl::StatusOr<uint64_t> Find(absl::string_view key) const;
  absl::StatusOr<uint64_t> Find(int64_t key) const;
  // Every offset, sorted ascending (the record-count split, §1.6).
  std::vector<uint64_t> SortedOffsets() const;

 private:
  std::string name_;
  std::vector<IndexEntry> entries_;
  std::unordered_map<std::string, uint64_t> offset_by_key_;
  std::unordered_map<int64_t, uint64_t> offset_by_integer_key_;
};

// dmlc's reading (ImageRecordIter with path_imgidx): whitespace-separated
// integer pairs "key offset" up to the first pair that is not two integers,
// where reading silently stops. Keys are dropped; offsets come back sorted.
std::vector<uint64_t> DmlcIndexOffsets(absl::string_view text);

// One .idx line, as MXIndexedRecordIO.write_idx writes it.
std::string FormatIndexLine(absl::string_view key, uint64_t offset);

// read_idx(key): random access to a .rec through its index.
class IndexedReader final {
 public:
  // Maps `rec_path` and loads `idx_path`; errors name the file.
  static absl::StatusOr<std::unique_ptr<IndexedReader>> Open(
      const std::string& rec_path, const std::string& idx_path);

  IndexedReader(std::shared_ptr<const ByteSource> source, RecordIndex index);

  const RecordIndex& index() const { return index_; }
  std::vector<std::string> keys() const { return index_.keys(); }

  // Seek to the key's offset and read one record into *record (valid until
  // the next call). An offset at or past the end of the .rec sets
  // *end_of_data (Python's read_idx returns None). NotFound for an unknown
  // key. A damaged record is always DataLoss for its key (a resync would
  // return a different key's record); the other keys stay readable, so a
  // lenient caller skips and counts the key.
  absl::Status Read(absl::string_view key, absl::string_view* record,
                    bool* end_of_data);
  absl::Status Read(int64_t key, absl::string_view* record, bool* end_of_data);
  // The record of entries()[entry], without a key lookup.
  absl::Status ReadEntry(size_t entry, absl::string_view* record,
                         bool* end_of_data);
  RecordReader& reader() { return reader_; }

 private:
  absl::Status ReadAt(uint64_t offset, absl::string_view* record,
                      bool* end_of_data);

  RecordIndex index_;
  RecordReader reader_;
};

}  // namespace iterd::recordio

#endif  // ITERD_COMMON_RECORDIO_INDEX_H_
