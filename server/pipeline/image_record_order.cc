#include "server/pipeline/image_record_order.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/random/engine.h"
#include "common/status/status_macros.h"

namespace iterd::pipeline {
namespace {

// Streams of Engine(seed, stream, epoch), so the three kinds of draws stay
// independent even when seed and shuffle_chunk_seed are equal.
constexpr uint64_t kIndexedShuffleStream = 0x494D475245433031;  // "IMGREC01"
constexpr uint64_t kChunkOrderStream = 0x494D475245433032;      // "IMGREC02"
// Chunk k's record shuffle uses stream kChunkRecordsStream + k.
constexpr uint64_t kChunkRecordsStream = 0x494D475245440000;

constexpr uint64_t kMegabyte = uint64_t{1} << 20;

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

ImageRecordOrder::ImageRecordOrder(
    std::shared_ptr<const recordio::ByteSource> source,
    ImageRecordOrderOptions options)
    : source_(std::move(source)), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ImageRecordOrder>> ImageRecordOrder::Create(
    std::shared_ptr<const recordio::ByteSource> source,
    ImageRecordOrderOptions options) {
  if (options.shuffle_chunk_size_mb < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("shuffle_chunk_size must not be negative, got ",
                     options.shuffle_chunk_size_mb));
  }
  std::unique_ptr<ImageRecordOrder> order(
      new ImageRecordOrder(std::move(source), std::move(options)));
  const ImageRecordOrderOptions& opts = order->options_;
  if (opts.indexed) {
    ITERD_ASSIGN_OR_RETURN(
        recordio::IndexedPart part,
        recordio::IndexedRecordPart(opts.sorted_offsets, order->source_->size(),
                                    opts.num_parts, opts.part_index));
    order->part_offsets_.assign(opts.sorted_offsets.begin() + part.first_record,
                                opts.sorted_offsets.begin() + part.end_record);
  } else {
    ITERD_ASSIGN_OR_RETURN(
        recordio::PartRange part,
        recordio::ByteRangePart(*order->source_, opts.num_parts,
                                opts.part_index));
    ITERD_RETURN_IF_ERROR(order->BuildChunks(part));
  }
  ITERD_RETURN_IF_ERROR(order->StartEpoch(0));
  return order;
}

absl::Status ImageRecordOrder::BuildChunks(const recordio::PartRange& part) {
  const uint64_t part_bytes = part.end_offset - part.begin_offset;
  if (part_bytes == 0) return absl::OkStatus();
  uint64_t count = 1;
  if (options_.shuffle_chunk_size_mb > 0) {
    // dmlc's sub-part count: ceil(total * 1.1 / (num_parts * size)).
    const double total = static_cast<double>(source_->size()) * 1.1;
    const double per_part = static_cast<double>(options_.num_parts) *
                            options_.shuffle_chunk_size_mb * kMegabyte;
    count = std::max<uint64_t>(
        1, static_cast<uint64_t>(std::ceil(total / per_part)));
  } else {
    count = std::max<uint64_t>(1, CeilDiv(part_bytes, kDefaultChunkBytes));
  }
  // Never more chunks than 4-byte words: each must be able to hold a head.
  count = std::min(count, std::max<uint64_t>(1, part_bytes / 4));
  const uint64_t step = CeilDiv(CeilDiv(part_bytes, count), 4) * 4;
  std::vector<uint64_t> bounds = {part.begin_offset};
  for (uint64_t k = 1; k < count; ++k) {
    const uint64_t from = part.begin_offset + k * step;
    if (from >= part.end_offset) break;
    ITERD_ASSIGN_OR_RETURN(uint64_t head, recordio::FindRecordHead(
                                              *source_, from, part.end_offset));
    if (head > bounds.back() && head < part.end_offset) bounds.push_back(head);
  }
  bounds.push_back(part.end_offset);
  for (size_t k = 0; k + 1 < bounds.size(); ++k) {
    chunks_.push_back({bounds[k], bounds[k + 1]});
  }
  return absl::OkStatus();
}

absl::Status ImageRecordOrder::StartEpoch(int64_t epoch) {
  epoch_ = epoch;
  if (options_.indexed) {
    order_ = part_offsets_;
    if (options_.shuffle) {
      // A fresh permutation of the sorted part each epoch (not compounding),
      // so epoch e's order depends on (seed, e) alone.
      random::Engine engine(options_.seed, kIndexedShuffleStream,
                            static_cast<uint64_t>(epoch));
      random::Shuffle(absl::MakeSpan(order_), &engine);
    }
  } else {
    chunk_order_.resize(chunks_.size());
    std::iota(chunk_order_.begin(), chunk_order_.end(), size_t{0});
    if (options_.shuffle_chunk_size_mb > 0) {
      random::Engine engine(options_.shuffle_chunk_seed, kChunkOrderStream,
                            static_cast<uint64_t>(epoch));
      random::Shuffle(absl::MakeSpan(chunk_order_), &engine);
    }
  }
  return Rewind();
}

absl::Status ImageRecordOrder::Rewind() {
  position_ = 0;
  next_in_order_ = 0;
  pending_error_ = absl::OkStatus();
  if (!options_.indexed) {
    chunk_cursor_ = 0;
    chunk_listed_ = false;
    order_.clear();
  }
  return absl::OkStatus();
}

absl::Status ImageRecordOrder::Seek(int64_t epoch, int64_t position) {
  ITERD_RETURN_IF_ERROR(StartEpoch(epoch));
  auto past_end = [position](int64_t records) {
    return absl::InvalidArgumentError(
        absl::StrCat("source position: position ", position, " is past the ",
                     records, " records of the part"));
  };
  if (position < 0) return past_end(0);
  if (options_.indexed) {
    if (position > static_cast<int64_t>(order_.size())) {
      return past_end(static_cast<int64_t>(order_.size()));
    }
    next_in_order_ = static_cast<size_t>(position);
    position_ = position;
    return absl::OkStatus();
  }
  int64_t remaining = position;
  int64_t listed = 0;
  for (chunk_cursor_ = 0; chunk_cursor_ < chunk_order_.size();
       ++chunk_cursor_) {
    ITERD_RETURN_IF_ERROR(ListChunk(chunk_order_[chunk_cursor_]));
    chunk_listed_ = true;
    const int64_t records = static_cast<int64_t>(order_.size());
    if (remaining < records || (remaining == records && records > 0 &&
                                chunk_cursor_ + 1 == chunk_order_.size())) {
      next_in_order_ = static_cast<size_t>(remaining);
      position_ = position;
      return absl::OkStatus();
    }
    // Damage that a strict listing met ends the pass here.
    if (!pending_error_.ok()) return pending_error_;
    remaining -= records;
    listed += records;
  }
  if (remaining > 0) return past_end(listed);
  // Exactly at the end of the pass.
  Rewind().IgnoreError();
  chunk_cursor_ = chunk_order_.size();
  chunk_listed_ = true;
  position_ = position;
  return absl::OkStatus();
}

absl::Status ImageRecordOrder::ListChunk(size_t chunk_index) {
  const recordio::PartRange& chunk = chunks_[chunk_index];
  recordio::ReaderOptions reader_options = options_.listing;
  reader_options.begin_offset = chunk.begin_offset;
  reader_options.end_offset = chunk.end_offset;
  recordio::RecordReader reader(source_, reader_options);
  order_.clear();
  next_in_order_ = 0;
  while (true) {
    absl::string_view record;
    bool end_of_data = false;
    const absl::Status read = reader.Next(&record, &end_of_data);
    if (!read.ok()) {
      // Serve the records before the damage first: the error belongs to its
      // place in the pass, not to the moment the chunk is listed.
      pending_error_ = read;
      break;
    }
    if (end_of_data) break;
    order_.push_back(reader.record_offset());
  }
  if (options_.shuffle) {
    random::Engine engine(options_.seed, kChunkRecordsStream + chunk_index,
                          static_cast<uint64_t>(epoch_));
    random::Shuffle(absl::MakeSpan(order_), &engine);
  }
  return absl::OkStatus();
}

absl::Status ImageRecordOrder::Next(uint64_t* offset, int64_t* position,
                                    bool* end_of_pass) {
  *end_of_pass = false;
  if (!options_.indexed) {
    // Move to the next chunk with records, listing it on arrival.
    while (!chunk_listed_ || next_in_order_ >= order_.size()) {
      if (!pending_error_.ok()) return pending_error_;
      if (chunk_listed_) ++chunk_cursor_;
      if (chunk_cursor_ >= chunk_order_.size()) {
        chunk_listed_ = true;
        order_.clear();
        next_in_order_ = 0;
        *end_of_pass = true;
        return absl::OkStatus();
      }
      ITERD_RETURN_IF_ERROR(ListChunk(chunk_order_[chunk_cursor_]));
      chunk_listed_ = true;
    }
  } else if (next_in_order_ >= order_.size()) {
    *end_of_pass = true;
    return absl::OkStatus();
  }
  *offset = order_[next_in_order_++];
  *position = position_++;
  return absl::OkStatus();
}

int64_t ImageRecordOrder::num_records() const {
  return options_.indexed ? static_cast<int64_t>(part_offsets_.size()) : -1;
}

absl::Status CheckIndexOffsets(const recordio::RecordIndex& index,
                               absl::string_view idx_name, uint64_t rec_size) {
  const std::vector<recordio::IndexEntry>& entries = index.entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].offset < rec_size) continue;
    return absl::InvalidArgumentError(
        absl::StrCat(idx_name, ": line ", i + 1, " (key ", entries[i].key,
                     "): offset ", entries[i].offset,
                     " is past the end of the .rec (", rec_size, " bytes)"));
  }
  return absl::OkStatus();
}

}  // namespace iterd::pipeline
