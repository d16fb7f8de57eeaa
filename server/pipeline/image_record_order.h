// File: server/pipeline/image_record_order.h
//
// ImageRecordOrder: the order in which an ImageRecordIter part visits its
// records in each epoch, as record head offsets into the .rec (reference
// §10.1 "Record order", §1.5, §1.6). Two modes:
//
//   - Indexed (an .idx was given): the part is a count of records over the
//     sorted .idx offsets (IndexedRecordPart). With shuffle, each epoch is a
//     fresh permutation of the part drawn from Engine(seed, stream, epoch).
//   - Byte range (no .idx): the part is a byte range (ByteRangePart), read in
//     chunks: 64 MB chunks in file order by default (so a file under 64 MB is
//     one chunk), or, with shuffle_chunk_size > 0, ceil(file * 1.1 /
//     (num_parts * size MB)) sub-parts of the part visited in an order drawn
//     per epoch from (shuffle_chunk_seed, epoch), as dmlc's InputSplitShuffle.
//     With shuffle, the records of each chunk are permuted (MXNet shuffles
//     within the chunk it has read), from (seed, chunk, epoch).
//     A chunk is listed (its record heads found with a RecordReader) only when
//     the pass reaches it, so memory is one offset per record of one chunk and
//     nothing is scanned at open. Damaged framing met while listing is
//     handled by the reader's policy (kSkip: resync and report).
//
// Everything is a function of (options, epoch): no clock, no thread identity.
// Exception (deliberate, documented): MXNet draws with mt19937 and its exact
// streams are not reproduced; the set and the per-chunk scope are.
//
// Thread-compatibility: one thread at a time (the source's producer).
// Ownership: shares the ByteSource; borrows the Reporter of ReaderOptions.

#ifndef ITERD_SERVER_PIPELINE_IMAGE_RECORD_ORDER_H_
#define ITERD_SERVER_PIPELINE_IMAGE_RECORD_ORDER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/recordio/byte_source.h"
#include "common/recordio/index.h"
#include "common/recordio/parts.h"
#include "common/recordio/reader.h"

namespace iterd::pipeline {

struct ImageRecordOrderOptions {
  int num_parts = 1;
  int part_index = 0;
  bool shuffle = false;
  uint64_t seed = 0;
  // Byte-range mode only.
  int shuffle_chunk_size_mb = 0;  // 0: 64 MB chunks in file order.
  uint64_t shuffle_chunk_seed = 0;
  // Indexed mode when set: every record head offset of the .idx, ascending.
  bool indexed = false;
  std::vector<uint64_t> sorted_offsets;
  // How a byte-range chunk is listed (policy and reporter of damaged framing).
  // Offsets and the range are set per chunk.
  recordio::ReaderOptions listing;
};

class ImageRecordOrder final {
 public:
  // The chunk size when shuffle_chunk_size is 0 (dmlc's read buffer).
  static constexpr uint64_t kDefaultChunkBytes = uint64_t{64} << 20;

  // InvalidArgument for bad part numbers or a negative chunk size; DataLoss
  // naming the file for an .idx offset past its end or a size that is not a
  // multiple of 4 (byte-range mode); I/O errors.
  static absl::StatusOr<std::unique_ptr<ImageRecordOrder>> Create(
      std::shared_ptr<const recordio::ByteSource> source,
      ImageRecordOrderOptions options);

  ImageRecordOrder(const ImageRecordOrder&) = delete;
  ImageRecordOrder& operator=(const ImageRecordOrder&) = delete;

  // Decides epoch `epoch`'s order and goes to its first record.
  absl::Status StartEpoch(int64_t epoch);
  // Back to the first record of the current epoch's order.
  absl::Status Rewind();
  // Epoch `epoch`'s order, at entry `position` (Next() returns that entry).
  // Indexed: O(1). Byte range: the chunks visited before the entry are
  // listed (their record heads found, nothing decoded). InvalidArgument for a
  // position past the part's records.
  absl::Status Seek(int64_t epoch, int64_t position);
  // The next record head of the order and its position in the epoch (0, 1,
  // ...). *end_of_pass when the part is exhausted. Errors: the listing
  // reader's (DataLoss under kStrict, I/O errors).
  absl::Status Next(uint64_t* offset, int64_t* position, bool* end_of_pass);

  // Records of the part (indexed), or -1 when unknown before a pass.
  int64_t num_records() const;
  // Byte-range mode: the chunks' byte ranges, in file order.
  const std::vector<recordio::PartRange>& chunks() const { return chunks_; }

 private:
  ImageRecordOrder(std::shared_ptr<const recordio::ByteSource> source,
                   ImageRecordOrderOptions options);
  absl::Status BuildChunks(const recordio::PartRange& part);
  absl::Status ListChunk(size_t chunk_index);

  const std::shared_ptr<const recordio::ByteSource> source_;
  const ImageRecordOrderOptions options_;
  int64_t epoch_ = 0;
  int64_t position_ = 0;
  // Indexed: the part's offsets (sorted) and this epoch's order of them.
  std::vector<uint64_t> part_offsets_;
  std::vector<uint64_t> order_;  // Indexed: all; byte range: current chunk.
  size_t next_in_order_ = 0;
  // Byte range: chunks in file order, this epoch's visiting order, and which
  // entry of chunk_order_ order_ holds (chunk_cursor_ == size: none yet).
  std::vector<recordio::PartRange> chunks_;
  std::vector<size_t> chunk_order_;
  size_t chunk_cursor_ = 0;
  bool chunk_listed_ = false;
  // Damage a strict listing met: returned (sticky) once the records listed
  // before it are served.
  absl::Status pending_error_;
};

// InvalidArgument "<idx_name>: line N (key K): offset X is past the end of
// the .rec (S bytes)" for the first entry of `index` that points at or past
// the end of a .rec of `rec_size` bytes: checked at open, so a bad offset is
// a clear error rather than an empty read (or, read as a signed number, a
// file sample with no name).
absl::Status CheckIndexOffsets(const recordio::RecordIndex& index,
                               absl::string_view idx_name, uint64_t rec_size);

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_IMAGE_RECORD_ORDER_H_
