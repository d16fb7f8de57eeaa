// File: server/pipeline/pipeline.h
//
// Pipeline: the handle of one opened pipeline, and all the service sees of
// it: its descriptors, its batches (with the Prefetcher's semantics:
// prefetcher.h), reset, cancel, counters, and its states on the wire
// (iterd.v1.IteratorState, iterator_state.h). Which stages it is made of
// (source -> Batcher -> Prefetcher) stays inside server/pipeline.
//
// Thread-safety: as the Prefetcher: Next() from one stream at a time; the
// counters, Cancel() and the descriptors from any thread.

#ifndef ITERD_SERVER_PIPELINE_PIPELINE_H_
#define ITERD_SERVER_PIPELINE_PIPELINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/tensor/batch.h"
#include "iterd/v1/iterator_state.pb.h"
#include "iterd/v1/service.pb.h"
#include "server/pipeline/pipeline_types.h"

namespace iterd::pipeline {

class Pipeline final {
 public:
  // Takes over what a kind's open built (OpenedPipeline.state_identity set).
  explicit Pipeline(OpenedPipeline opened);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // What OpenIteratorResponse describes.
  const std::vector<v1::DataDesc>& provide_data() const {
    return opened_.provide_data;
  }
  const std::vector<v1::DataDesc>& provide_label() const {
    return opened_.provide_label;
  }
  int64_t batch_size() const { return opened_.batch_size; }
  uint64_t seed() const { return opened_.seed; }
  int64_t num_samples() const { return opened_.num_samples; }

  // The wire state at `position` (Batch::after of a batch of this pipeline),
  // and before the first batch.
  v1::IteratorState State(const StreamPosition& position) const;
  v1::IteratorState StartState() const { return State(opened_.start_position); }

  // The first result's status without consuming it: bad data surfaces at
  // open. Gives up with Cancelled when `is_cancelled` says so.
  absl::Status WaitForFirst(const std::function<bool()>& is_cancelled);

  // The next batch, or the end of the epoch (then *end_state, if not null,
  // is the state there). Waits, polling `is_cancelled`.
  absl::Status Next(std::shared_ptr<const Batch>* batch, bool* end_of_epoch,
                    const std::function<bool()>& is_cancelled = nullptr,
                    v1::IteratorState* end_state = nullptr);

  // Starts the next epoch (Prefetcher::Reset); *state_after, if not null, is
  // the state at its start.
  absl::Status Reset(std::optional<int64_t> batches_consumed,
                     v1::IteratorState* state_after = nullptr);

  // Every current and later Next() returns Cancelled; production stops.
  void Cancel();

  // Batches produced since open (all epochs), and produced but not yet
  // taken by Next().
  int64_t batches_produced();
  int64_t queued_batches();
  // BatchHeader.epoch of the last batch Next() returned (EpochEnd.epoch).
  int64_t last_delivered_epoch();
  // Records decoded and skipped.
  SourceStats source_stats() const;
  // NDArrayIter.idx of the current epoch; FailedPrecondition for the other
  // kinds.
  absl::StatusOr<std::vector<uint64_t>> SampleOrder() const;

 private:
  OpenedPipeline opened_;
};

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_PIPELINE_H_
