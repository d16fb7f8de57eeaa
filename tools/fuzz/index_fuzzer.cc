// libFuzzer target for .idx parsing (common/recordio/index.h): Python's
// RecordIndex::Parse and dmlc's DmlcIndexOffsets, on arbitrary text.
//
// Checked: Parse fails only with InvalidArgument naming the file and a line;
// a parsed index re-written with FormatIndexLine parses to the same entries;
// Find(key) gives the last line's offset for the key; SortedOffsets and
// DmlcIndexOffsets are sorted; IndexedRecordPart over them tiles the records.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/recordio/index.h"
#include "common/recordio/parts.h"
#include "tools/fuzz/fuzz_check.h"

namespace iterd::recordio {
namespace {

void CheckParts(const std::vector<uint64_t>& sorted_offsets) {
  FUZZ_CHECK(std::is_sorted(sorted_offsets.begin(), sorted_offsets.end()),
             "offsets not sorted");
  const uint64_t file_size =
      sorted_offsets.empty() ? 0 : sorted_offsets.back() + 1;
  if (file_size == 0 && !sorted_offsets.empty()) return;  // Offset 2^64-1.
  for (int num_parts = 1; num_parts <= 4; ++num_parts) {
    size_t next_record = 0;
    uint64_t next_begin = sorted_offsets.empty() ? 0 : sorted_offsets[0];
    for (int part = 0; part < num_parts; ++part) {
      absl::StatusOr<IndexedPart> indexed =
          IndexedRecordPart(sorted_offsets, file_size, num_parts, part);
      FUZZ_CHECK(indexed.ok(), indexed.status().ToString());
      FUZZ_CHECK(indexed->first_record == next_record &&
                     indexed->first_record <= indexed->end_record,
                 "indexed parts do not tile the records");
      FUZZ_CHECK(indexed->range.begin_offset == next_begin ||
                     indexed->first_record == indexed->end_record,
                 "indexed parts do not tile the bytes");
      next_record = indexed->end_record;
      next_begin = indexed->range.end_offset;
    }
    FUZZ_CHECK(next_record == sorted_offsets.size(), "records left over");
  }
}

void CheckIndex(absl::string_view text) {
  absl::StatusOr<RecordIndex> index = RecordIndex::Parse(text, "fuzz.idx");
  CheckParts(DmlcIndexOffsets(text));
  if (!index.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(index.status()),
               index.status().ToString());
    FUZZ_CHECK(absl::StartsWith(index.status().message(), "fuzz.idx: line "),
               index.status().ToString());
    return;
  }
  std::string rewritten;
  std::unordered_map<std::string, uint64_t> last_offset;
  for (const IndexEntry& entry : index->entries()) {
    last_offset[entry.key] = entry.offset;
    absl::StrAppend(&rewritten, FormatIndexLine(entry.key, entry.offset));
  }
  for (const auto& [key, offset] : last_offset) {
    absl::StatusOr<uint64_t> found = index->Find(key);
    FUZZ_CHECK(found.ok() && *found == offset,
               absl::StrCat("Find(\"", key, "\")"));
  }
  std::vector<uint64_t> sorted = index->SortedOffsets();
  CheckParts(sorted);
  // A parsed key holds no tab or newline and does not start with whitespace
  // (the line is stripped), so its rewritten line parses back to it.
  absl::StatusOr<RecordIndex> reparsed =
      RecordIndex::Parse(rewritten, "rewritten.idx");
  FUZZ_CHECK(reparsed.ok(), reparsed.status().ToString());
  FUZZ_CHECK(reparsed->entries().size() == index->entries().size(),
             "entry count changed on rewrite");
  for (size_t i = 0; i < index->entries().size(); ++i) {
    const IndexEntry& a = index->entries()[i];
    const IndexEntry& b = reparsed->entries()[i];
    FUZZ_CHECK(a.key == b.key && a.offset == b.offset &&
                   a.integer_key == b.integer_key,
               absl::StrCat("entry ", i, " changed on rewrite"));
  }
}

}  // namespace
}  // namespace iterd::recordio

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iterd::recordio::CheckIndex(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
