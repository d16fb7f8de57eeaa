#include "common/recordio/parts.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/recordio/reader.h"
#include "common/recordio/recordio_format.h"

namespace iterd::recordio {
namespace {

absl::Status CheckPartNumbers(int num_parts, int part_index) {
  if (num_parts < 1 || part_index < 0 || part_index >= num_parts) {
    return absl::InvalidArgumentError(
        absl::StrCat("part_index ", part_index,
                     " is not in [0, num_parts=", num_parts, ")"));
  }
  return absl::OkStatus();
}

// dmlc moves a boundary to the next record head unless it is the start or
// end of the file.
absl::StatusOr<uint64_t> AdjustBoundary(const ByteSource& source,
                                        uint64_t boundary) {
  if (boundary == 0 || boundary >= source.size()) return boundary;
  return FindRecordHead(source, boundary, source.size());
}

}  // namespace

absl::StatusOr<PartRange> ByteRangePart(const ByteSource& source, int num_parts,
                                        int part_index) {
  absl::Status numbers = CheckPartNumbers(num_parts, part_index);
  if (!numbers.ok()) return numbers;
  const uint64_t total = source.size();
  if (total % kAlignment != 0) {
    return absl::DataLossError(
        absl::StrCat(source.name(), ": file size ", total,
                     " is not a multiple of 4, so it is not a RecordIO file "
                     "that can be split"));
  }
  const uint64_t parts = static_cast<uint64_t>(num_parts);
  const uint64_t step = PaddedLength((total + parts - 1) / parts);
  const uint64_t index = static_cast<uint64_t>(part_index);
  absl::StatusOr<uint64_t> begin =
      AdjustBoundary(source, std::min(step * index, total));
  if (!begin.ok()) return begin.status();
  absl::StatusOr<uint64_t> end =
      AdjustBoundary(source, std::min(step * (index + 1), total));
  if (!end.ok()) return end.status();
  // A part whose nominal range holds no head moves both ends to the same
  // head: empty, as in dmlc.
  return PartRange{*begin, std::max(*begin, *end)};
}

absl::StatusOr<IndexedPart> IndexedRecordPart(
    const std::vector<uint64_t>& sorted_offsets, uint64_t file_size,
    int num_parts, int part_index) {
  absl::Status numbers = CheckPartNumbers(num_parts, part_index);
  if (!numbers.ok()) return numbers;
  if (!sorted_offsets.empty() && sorted_offsets.back() >= file_size) {
    return absl::DataLossError(absl::StrCat(
        "index offset ", sorted_offsets.back(),
        " is at or past the end of the .rec (", file_size, " bytes)"));
  }
  const size_t records = sorted_offsets.size();
  const size_t parts = static_cast<size_t>(num_parts);
  const size_t per_part = (records + parts - 1) / parts;
  IndexedPart part;
  part.first_record =
      std::min(per_part * static_cast<size_t>(part_index), records);
  part.end_record = std::min(part.first_record + per_part, records);
  auto boundary = [&](size_t record) {
    return record < records ? sorted_offsets[record] : file_size;
  };
  part.range = {boundary(part.first_record), boundary(part.end_record)};
  return part;
}

}  // namespace iterd::recordio
