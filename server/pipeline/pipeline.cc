#include "server/pipeline/pipeline.h"

#include <utility>

#include "server/pipeline/iterator_state.h"

namespace iterd::pipeline {

Pipeline::Pipeline(OpenedPipeline opened) : opened_(std::move(opened)) {}

v1::IteratorState Pipeline::State(const StreamPosition& position) const {
  return WithPosition(opened_.state_identity, position);
}

absl::Status Pipeline::WaitForFirst(const std::function<bool()>& is_cancelled) {
  return opened_.prefetcher->WaitForFirst(is_cancelled);
}

absl::Status Pipeline::Next(std::shared_ptr<const Batch>* batch,
                            bool* end_of_epoch,
                            const std::function<bool()>& is_cancelled,
                            v1::IteratorState* end_state) {
  StreamPosition end_position;
  const absl::Status status =
      opened_.prefetcher->GetNext(batch, end_of_epoch, is_cancelled,
                                  absl::Milliseconds(100), &end_position);
  if (status.ok() && *end_of_epoch && end_state != nullptr) {
    *end_state = State(end_position);
  }
  return status;
}

absl::Status Pipeline::Reset(std::optional<int64_t> batches_consumed,
                             v1::IteratorState* state_after) {
  StreamPosition after;
  const absl::Status status =
      opened_.prefetcher->Reset(batches_consumed, &after);
  if (status.ok() && state_after != nullptr) *state_after = State(after);
  return status;
}

void Pipeline::Cancel() { opened_.prefetcher->Cancel(); }

int64_t Pipeline::batches_produced() {
  return opened_.prefetcher->batches_produced();
}

int64_t Pipeline::queued_batches() {
  return opened_.prefetcher->queued_batches();
}

int64_t Pipeline::last_delivered_epoch() {
  return opened_.prefetcher->last_delivered_epoch();
}

SourceStats Pipeline::source_stats() const {
  return opened_.source_stats ? opened_.source_stats() : SourceStats{};
}

absl::StatusOr<std::vector<uint64_t>> Pipeline::SampleOrder() const {
  if (!opened_.sample_order) {
    return absl::FailedPreconditionError(
        "only NDArray iterators have a sample order (idx)");
  }
  return opened_.sample_order();
}

}  // namespace iterd::pipeline
