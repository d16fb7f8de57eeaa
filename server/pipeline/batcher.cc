#include "server/pipeline/batcher.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace iterd::pipeline {
namespace {

std::vector<TensorSpec> WithBatchAxis(const std::vector<TensorSpec>& samples,
                                      int64_t batch_size) {
  std::vector<TensorSpec> specs;
  specs.reserve(samples.size());
  for (const TensorSpec& sample : samples) {
    TensorSpec spec;
    spec.dtype = sample.dtype;
    spec.shape.push_back(batch_size);
    spec.shape.insert(spec.shape.end(), sample.shape.begin(),
                      sample.shape.end());
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::shared_ptr<PayloadPool> MakePayloadPool(
    const BatcherOptions& options, const PayloadPoolFactory& make_payload_pool,
    size_t buffer_bytes) {
  if (make_payload_pool) {
    std::shared_ptr<PayloadPool> pool =
        make_payload_pool(buffer_bytes, options.pooled_payloads);
    if (pool != nullptr) return pool;
  }
  return PayloadPool::Create(buffer_bytes, options.pooled_payloads);
}

// Repeats rows [from, filled) of every tensor, and of the index, until the
// batch is full: rows [from, filled) hold one whole pass, so this is what
// reading the pass again and again would write, at memcpy speed. Each copy
// doubles the repeated block and keeps whole passes aligned.
void RepeatPass(Batch* batch, int64_t from, int64_t filled) {
  const int64_t batch_size = batch->batch_size();
  auto repeat = [&](uint8_t* base, size_t row_bytes) {
    for (int64_t done = filled; done < batch_size;) {
      const int64_t rows = std::min(done - from, batch_size - done);
      std::memcpy(base + done * row_bytes, base + from * row_bytes,
                  rows * row_bytes);
      done += rows;
    }
  };
  for (size_t i = 0; i < batch->num_data(); ++i) {
    repeat(batch->data(i).bytes().data(), batch->data(i).spec().row_bytes());
  }
  for (size_t i = 0; i < batch->num_label(); ++i) {
    repeat(batch->label(i).bytes().data(), batch->label(i).spec().row_bytes());
  }
  if (!batch->index.empty()) {
    repeat(reinterpret_cast<uint8_t*>(batch->index.data()), sizeof(uint64_t));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Batcher>> Batcher::Create(
    const BatcherOptions& options, std::unique_ptr<SampleSource> source,
    const PayloadPoolFactory& make_payload_pool) {
  if (options.batch_size <= 0 || options.batch_size > kMaxBatchSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be positive and at most ", kMaxBatchSize,
                     ", got ", options.batch_size));
  }
  return std::unique_ptr<Batcher>(
      new Batcher(options, std::move(source), make_payload_pool));
}

Batcher::Batcher(const BatcherOptions& options,
                 std::unique_ptr<SampleSource> source,
                 const PayloadPoolFactory& make_payload_pool)
    : options_(options),
      source_(std::move(source)),
      data_specs_(
          WithBatchAxis(source_->sample_data_specs(), options.batch_size)),
      label_specs_(
          WithBatchAxis(source_->sample_label_specs(), options.batch_size)),
      payload_pool_(
          MakePayloadPool(options, make_payload_pool,
                          Batch::PayloadBytes(data_specs_, label_specs_))) {}

std::shared_ptr<Batch> Batcher::NewBatch() const {
  auto batch =
      std::make_shared<Batch>(data_specs_, label_specs_, payload_pool_.get());
  if (source_->has_sample_ids()) batch->index.assign(options_.batch_size, 0);
  return batch;
}

absl::Status Batcher::FillFromPass(Batch* batch, int64_t* filled,
                                   bool* end_of_pass, int64_t end_row) {
  // Never anything sized by the rows still missing: a pass much shorter than
  // the batch (pad tiling 10 samples into 2^24 rows) calls this once per
  // pass, so per-call work must be per row written.
  *end_of_pass = false;
  if (end_row < 0) end_row = options_.batch_size;
  if (!batch->index.empty()) {
    int64_t read = 0;
    ITERD_RETURN_IF_ERROR(source_->ReadSamples(
        batch, *filled, end_row - *filled, batch->index.data() + *filled, &read,
        end_of_pass));
    *filled += read;
    return absl::OkStatus();
  }
  if (scratch_ids_.empty()) {
    scratch_ids_.resize(std::min(options_.batch_size, kIdScratchRows));
  }
  while (*filled < end_row && !*end_of_pass) {
    const int64_t count =
        std::min<int64_t>(end_row - *filled, scratch_ids_.size());
    int64_t read = 0;
    ITERD_RETURN_IF_ERROR(source_->ReadSamples(
        batch, *filled, count, scratch_ids_.data(), &read, end_of_pass));
    *filled += read;
    if (read < count) break;
  }
  return absl::OkStatus();
}

absl::Status Batcher::GetNext(std::shared_ptr<Batch>* batch,
                              bool* end_of_epoch) {
  *end_of_epoch = false;
  if (epoch_over_) {
    *end_of_epoch = true;
    return absl::OkStatus();
  }
  if (!epoch_started_) {
    ITERD_RETURN_IF_ERROR(source_->StartEpoch(epoch_));
    epoch_started_ = true;
  }
  std::shared_ptr<Batch> current;
  int64_t filled = 0;
  if (held_for_next_epoch_) {
    // roll_over: the first batch of this epoch starts with last epoch's tail.
    current = std::move(held_batch_);
    filled = held_rows_;
    held_for_next_epoch_ = false;
  } else {
    current = NewBatch();
  }
  const int64_t carried = filled;
  // Where this batch's new samples start: the held tail's position if the
  // batch turns out short and is held.
  const SourcePosition batch_from = source_->Tell();
  bool end_of_pass = false;
  ITERD_RETURN_IF_ERROR(FillFromPass(current.get(), &filled, &end_of_pass));
  // Only the roll_over policies carry rows; pad is 0 otherwise.
  current->pad = carried;
  if (carried > 0 && options_.policy == LastBatchPolicy::kRollOverPadIsNew) {
    current->pad = options_.batch_size - carried;
  }
  if (filled < options_.batch_size) {
    bool keep = false;
    ITERD_RETURN_IF_ERROR(CompleteShortBatch(&current, filled, &keep));
    // A held tail that already opened with carried rows keeps their origin.
    if (held_batch_ != nullptr && carried == 0) held_from_ = batch_from;
    epoch_over_ = true;
    if (!keep) {
      *end_of_epoch = true;
      return absl::OkStatus();
    }
  }
  current->epoch = epoch_;
  current->sequence = sequence_++;
  current->after = position();
  *batch = std::move(current);
  return absl::OkStatus();
}

absl::Status Batcher::CompleteShortBatch(std::shared_ptr<Batch>* batch,
                                         int64_t filled, bool* keep) {
  const int64_t batch_size = options_.batch_size;
  Batch* current = batch->get();
  *keep = false;
  switch (options_.policy) {
    case LastBatchPolicy::kDiscard:
      return absl::OkStatus();
    case LastBatchPolicy::kRollOver:
    case LastBatchPolicy::kRollOverPadIsNew:
      if (filled > 0) {
        held_batch_ = std::move(*batch);
        held_rows_ = filled;
      }
      return absl::OkStatus();
    case LastBatchPolicy::kZeroFill:
      if (filled == 0) return absl::OkStatus();
      for (int64_t row = filled; row < batch_size; ++row) {
        current->ZeroRow(row);
        if (!current->index.empty()) current->index[row] = 0;
      }
      current->pad = batch_size - filled;
      *keep = true;
      return absl::OkStatus();
    case LastBatchPolicy::kPad:
    case LastBatchPolicy::kRoundBatch: {
      if (filled == 0) {
        // The epoch ended on a batch boundary: nothing to complete, and the
        // next epoch starts at the first sample.
        continue_after_wrap_ = false;
        return absl::OkStatus();
      }
      int wraps = 0;
      int64_t real = filled;
      while (filled < batch_size) {
        if (options_.policy == LastBatchPolicy::kRoundBatch && wraps == 1) {
          return absl::InvalidArgumentError(absl::StrCat(
              "batch_size (", batch_size, ") is too large for ", real,
              " samples: round_batch can wrap around the data only once"));
        }
        ITERD_RETURN_IF_ERROR(source_->Rewind());
        ++wraps;
        const int64_t before = filled;
        bool end_of_pass = false;
        ITERD_RETURN_IF_ERROR(FillFromPass(current, &filled, &end_of_pass));
        if (filled == before) {
          return absl::FailedPreconditionError(
              "the data has no samples to complete the last batch with");
        }
        if (options_.policy == LastBatchPolicy::kPad && filled < batch_size) {
          // The pass ended before the batch did (pad with a batch larger
          // than the data): rows [before, filled) are the whole pass, and
          // Rewind() repeats the same order, so tile it instead of reading
          // it again (10 samples tiled to 2^24 rows cost 1.6M passes).
          RepeatPass(current, before, filled);
          filled = batch_size;
        }
      }
      current->pad = batch_size - real;
      continue_after_wrap_ = options_.policy == LastBatchPolicy::kRoundBatch;
      *keep = true;
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown last-batch policy");
}

absl::Status Batcher::Reset(bool epoch_finished) {
  // Only a consumer that saw the whole epoch gets MXNet's carry-over; the
  // batches this batcher produced beyond what the consumer took are dropped by
  // the caller.
  const bool finished = epoch_finished && epoch_over_;
  epoch_over_ = false;
  if (!epoch_started_) return absl::OkStatus();  // Nothing read yet.
  ++epoch_;
  if (options_.policy == LastBatchPolicy::kRoundBatch && finished &&
      continue_after_wrap_) {
    // MXNet's round_batch: the next epoch goes on right after the wrapped
    // samples.
    continue_after_wrap_ = false;
    return absl::OkStatus();
  }
  continue_after_wrap_ = false;
  // roll_over keeps a tail only when the epoch ran to its end; a reset
  // mid-epoch (or a second reset before the tail was used) drops it, as MXNet
  // does.
  held_for_next_epoch_ =
      finished && held_batch_ != nullptr && !held_for_next_epoch_;
  if (!held_for_next_epoch_) {
    held_batch_.reset();
    held_rows_ = 0;
  }
  return source_->StartEpoch(epoch_);
}

StreamPosition Batcher::position() const {
  StreamPosition position;
  position.epoch = epoch_;
  position.sequence = sequence_;
  position.epoch_over = epoch_over_;
  position.epoch_started = epoch_started_;
  if (epoch_started_) {
    position.source = source_->Tell();
  } else {
    position.source.epoch = epoch_;
  }
  position.continue_after_wrap = continue_after_wrap_;
  if (held_batch_ != nullptr) {
    position.held_rows = held_rows_;
    position.held_from = held_from_;
  }
  return position;
}

absl::Status Batcher::ReadHeldRows(const SourcePosition& from, int64_t rows) {
  ITERD_RETURN_IF_ERROR(source_->Seek(from));
  held_batch_ = NewBatch();
  held_rows_ = 0;
  held_from_ = from;
  int64_t epoch = from.epoch;
  while (held_rows_ < rows) {
    bool end_of_pass = false;
    const int64_t before = held_rows_;
    ITERD_RETURN_IF_ERROR(
        FillFromPass(held_batch_.get(), &held_rows_, &end_of_pass, rows));
    if (held_rows_ < rows) {
      // The tail spans epochs only when whole passes are shorter than the
      // batch: go on with the next epoch's pass, as the epochs did. Each
      // pass gave at least one row, or the state lies.
      if (held_rows_ == before || ++epoch > from.epoch + rows) {
        return absl::InvalidArgumentError(
            "state: held_rows is more than the data holds");
      }
      ITERD_RETURN_IF_ERROR(source_->StartEpoch(epoch));
    }
  }
  return absl::OkStatus();
}

absl::Status Batcher::Restore(const StreamPosition& position) {
  if (position.epoch < 0 || position.sequence < 0 || position.held_rows < 0 ||
      position.held_rows >= options_.batch_size ||
      (position.held_rows > 0 &&
       options_.policy != LastBatchPolicy::kRollOver &&
       options_.policy != LastBatchPolicy::kRollOverPadIsNew) ||
      (position.continue_after_wrap &&
       options_.policy != LastBatchPolicy::kRoundBatch) ||
      (position.epoch_started && position.source.epoch > position.epoch) ||
      (!position.epoch_started &&
       (position.held_rows > 0 || position.epoch_over))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: epoch ", position.epoch, ", held_rows ", position.held_rows,
        ", continue_after_wrap ", position.continue_after_wrap,
        " do not describe a stream of batch_size ", options_.batch_size,
        " with this last-batch policy"));
  }
  held_batch_.reset();
  held_rows_ = 0;
  if (position.held_rows > 0) {
    ITERD_RETURN_IF_ERROR(ReadHeldRows(position.held_from, position.held_rows));
  }
  if (position.epoch_started) {
    ITERD_RETURN_IF_ERROR(source_->Seek(position.source));
  }
  epoch_ = position.epoch;
  sequence_ = position.sequence;
  epoch_over_ = position.epoch_over;
  epoch_started_ = position.epoch_started;
  continue_after_wrap_ = position.continue_after_wrap;
  // A tail read after the epoch ended waits for a finished Reset(); one
  // restored after that Reset opens this epoch's first batch.
  held_for_next_epoch_ = held_batch_ != nullptr && !epoch_over_;
  return absl::OkStatus();
}

}  // namespace iterd::pipeline
