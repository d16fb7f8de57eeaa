// File: server/pipeline/batcher.h
//
// Batcher: groups the samples of a SampleSource into batches and applies
// MXNet's last-batch policy. It is the one place where every pipeline's pad /
// discard / roll_over / round_batch behaviour lives; MXNet's per-iterator
// differences are LastBatchPolicy values, not separate code
// (docs/mxnet-compatibility.md, sections "NDArrayIter" and "Native batching").
//
// Thread-compatibility: one thread at a time (the Prefetcher's producer).

#ifndef ITERD_SERVER_PIPELINE_BATCHER_H_
#define ITERD_SERVER_PIPELINE_BATCHER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/tensor/payload_pool.h"
#include "server/pipeline/batch_iterator.h"
#include "server/pipeline/sample_source.h"

namespace iterd::pipeline {

enum class LastBatchPolicy {
  // NDArrayIter 'pad': complete the short last batch from the start of the data
  // (tiling it if
  // needed); pad = filler count; every epoch starts at the first sample.
  kPad,
  // NDArrayIter / ImageIter 'discard': drop the short last batch.
  kDiscard,
  // NDArrayIter 'roll_over': hold the short tail back; after Reset() the first
  // batch is the held
  // samples followed by new-epoch samples, with pad = number of held samples.
  kRollOver,
  // ImageIter 'roll_over' (reference section 11.3): as kRollOver, but the first
  // batch of the next epoch reports pad = batch_size - held samples (the number
  // of new-epoch samples), the opposite convention to NDArrayIter's.
  kRollOverPadIsNew,
  // Native iterators' round_batch=true (CSVIter, ImageRecordIter): complete the
  // short last batch
  // from the start of the data (one wrap at most, else an error as in MXNet);
  // pad = filler count;
  // the next epoch continues right after the wrapped samples.
  kRoundBatch,
  // Native round_batch=false: keep the short last batch at full shape with
  // zeroed filler rows
  // (MXNet leaves stale data there); pad = batch_size - real samples.
  kZeroFill,
};

// Payload buffers a pipeline needs beyond its prefetch depth: the batch in
// production, the one the stream is sending, and up to two whose last chunks
// gRPC has not released yet. Pooling fewer makes steady state allocate (and
// fault in) fresh 10-150 MB buffers.
inline constexpr int kPayloadsBeyondPrefetch = 4;

// Largest batch_size accepted (2^24 samples). Per-batch bookkeeping (sample
// ids) is sized by it, and a client-supplied size must not be able to exhaust
// memory on its own.
inline constexpr int64_t kMaxBatchSize = int64_t{1} << 24;

// Rows read per ReadSamples() call when the ids are not kept.
inline constexpr int64_t kIdScratchRows = 4096;

struct BatcherOptions {
  int64_t batch_size = 0;
  LastBatchPolicy policy = LastBatchPolicy::kPad;
  // Released payload buffers kept for reuse (see PayloadPool). The prefetch
  // depth plus the batches a stream may hold is enough; more only holds memory.
  int pooled_payloads = 4;
};

// Makes a Batcher's payload pool instead of a heap PayloadPool (e.g. one
// backed by a same-host shared-memory region); gets the payload size and
// BatcherOptions::pooled_payloads. A null result means a heap pool.
using PayloadPoolFactory = std::function<std::shared_ptr<PayloadPool>(
    size_t buffer_bytes, int pooled_payloads)>;

class Batcher final : public BatchIterator {
 public:
  // InvalidArgument naming `batch_size` when it is not positive.
  static absl::StatusOr<std::unique_ptr<Batcher>> Create(
      const BatcherOptions& options, std::unique_ptr<SampleSource> source,
      const PayloadPoolFactory& make_payload_pool = nullptr);

  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  absl::Status GetNext(std::shared_ptr<Batch>* batch,
                       bool* end_of_epoch) override;
  absl::Status Reset(bool epoch_finished) override;
  StreamPosition position() const override;
  absl::Status Restore(const StreamPosition& position) override;
  const std::vector<TensorSpec>& data_specs() const override {
    return data_specs_;
  }
  const std::vector<TensorSpec>& label_specs() const override {
    return label_specs_;
  }

  SampleSource* source() { return source_.get(); }

 private:
  Batcher(const BatcherOptions& options, std::unique_ptr<SampleSource> source,
          const PayloadPoolFactory& make_payload_pool);

  // Fills rows [*filled, end_row) (default: the whole batch) from the
  // current pass; stops early at the end of the pass. Work and memory are
  // linear in the rows written, however many times a short pass is repeated
  // to complete a batch.
  absl::Status FillFromPass(Batch* batch, int64_t* filled, bool* end_of_pass,
                            int64_t end_row = -1);
  // Restore(): reads the `rows` held roll_over samples again, from `from` on
  // through as many following epochs as they span.
  absl::Status ReadHeldRows(const SourcePosition& from, int64_t rows);
  // Completes a short batch according to the policy. Sets *keep = false when
  // the batch is dropped (discard, roll_over, or nothing to complete).
  absl::Status CompleteShortBatch(std::shared_ptr<Batch>* batch, int64_t filled,
                                  bool* keep);
  std::shared_ptr<Batch> NewBatch() const;

  const BatcherOptions options_;
  const std::unique_ptr<SampleSource> source_;
  std::vector<TensorSpec> data_specs_;
  std::vector<TensorSpec> label_specs_;
  const std::shared_ptr<PayloadPool> payload_pool_;
  // Ids of sources whose batches carry no index: read and dropped, in pieces
  // of at most kIdScratchRows.
  std::vector<uint64_t> scratch_ids_;

  int64_t epoch_ = 0;
  int64_t sequence_ = 0;
  bool epoch_started_ =
      false;  // StartEpoch(epoch_) has been called on the source.
  bool epoch_over_ = false;  // The epoch's last batch has been delivered.
  // kRoundBatch: the last epoch ended with a wrapped batch, so the next one
  // continues after it.
  bool continue_after_wrap_ = false;
  // kRollOver / kRollOverPadIsNew: samples held back from the last epoch (rows
  // [0, held_rows_) of held_batch_).
  std::shared_ptr<Batch> held_batch_;
  int64_t held_rows_ = 0;
  // Where the held samples were read from (the first of them, when a pass
  // shorter than the batch makes the tail span epochs).
  SourcePosition held_from_;
  // kRollOver / kRollOverPadIsNew: held_batch_ belongs to the epoch that is
  // starting (set by Reset()).
  bool held_for_next_epoch_ = false;
};

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_BATCHER_H_
