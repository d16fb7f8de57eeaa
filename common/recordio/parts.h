// File: common/recordio/parts.h
//
// Splitting one .rec file into `num_parts` for `part_index`, as dmlc's input
// splits do for ImageRecordIter (reference §1.5 and §1.6), so that the parts
// together hold every record exactly once:
//   - without an index, by bytes: step = ceil(size / num_parts) rounded up to
//     4, each boundary moved forward to the next record head;
//   - with an index, by record count over the sorted offsets.
// A part is a byte range; read it with a RecordReader whose ReaderOptions
// begin_offset/end_offset are the range.
//
// Pure functions over an immutable ByteSource; thread-safe.

#ifndef ITERD_COMMON_RECORDIO_PARTS_H_
#define ITERD_COMMON_RECORDIO_PARTS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/recordio/byte_source.h"

namespace iterd::recordio {

struct PartRange {
  uint64_t begin_offset = 0;  // A record head, or end_offset when empty.
  uint64_t end_offset = 0;    // The next part's begin_offset, or file size.
};

// §1.5. InvalidArgument unless 0 <= part_index < num_parts; DataLoss naming
// the file when its size is not a multiple of 4 (dmlc refuses such a file:
// "file do not align by 4 bytes"). Only I/O errors otherwise.
absl::StatusOr<PartRange> ByteRangePart(const ByteSource& source, int num_parts,
                                        int part_index);

struct IndexedPart {
  PartRange range;
  // Indices into the sorted offsets: the part's records are
  // sorted_offsets[first_record, end_record).
  size_t first_record = 0;
  size_t end_record = 0;
};

// §1.6: n = ceil(R / num_parts) records per part, the last parts may be short
// or empty. REQUIRES: `sorted_offsets` ascending (RecordIndex::SortedOffsets,
// DmlcIndexOffsets). InvalidArgument for bad part numbers, DataLoss naming the
// offset when one lies past `file_size`.
absl::StatusOr<IndexedPart> IndexedRecordPart(
    const std::vector<uint64_t>& sorted_offsets, uint64_t file_size,
    int num_parts, int part_index);

}  // namespace iterd::recordio

#endif  // ITERD_COMMON_RECORDIO_PARTS_H_
