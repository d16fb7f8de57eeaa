// ShardedIterator's daemon failure handling (see sharded_iterator.h): fail
// fast naming the daemon and part, or re-read the part elsewhere.

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/cpp/sharded_iterator.h"
#include "common/status/status_macros.h"

namespace iterd::client {

absl::Status ShardedIterator::Failure(const Part& part,
                                      absl::string_view cause) const {
  return absl::UnavailableError(absl::StrCat(
      "iterd daemon ", addresses_[part.daemon], " failed serving part ",
      part.part_index, " of ", num_parts(), " to trainer rank ", rank_,
      " (epoch ", epoch_, ", after ", part.delivered,
      " of the part's batches): ", cause,
      ". Set ShardedIteratorOptions::on_daemon_failure = "
      "DaemonFailureMode::kReassign to re-read its part from the surviving "
      "daemons."));
}

absl::Status ShardedIterator::HandleError(Part* part,
                                          const absl::Status& error) {
  absl::Status status = error;
  if (IsDaemonFailure(error)) {
    if (options_.on_daemon_failure == DaemonFailureMode::kFail) {
      status = Failure(*part, error.ToString());
    } else {
      part->fetcher.Join();
      status = Reassign(part, error, part->delivered);
      if (status.ok()) {
        part->fetcher.Start(part->iterator.get());
        return absl::OkStatus();
      }
    }
  }
  StopThreads();
  broken_ = status;
  return status;
}

absl::Status ShardedIterator::Reassign(Part* part, const absl::Status& error,
                                       int64_t skip) {
  failed_daemons_.insert(addresses_[part->daemon]);
  absl::Status last_error = error;
  const int daemons = num_daemons();
  for (int step = 1; step < daemons; ++step) {
    const int candidate = (part->daemon + step) % daemons;
    if (failed_daemons_.count(addresses_[candidate]) > 0) continue;
    absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator =
        Reopen(candidate, *part, skip);
    if (!iterator.ok()) {
      if (!IsDaemonFailure(iterator.status())) return iterator.status();
      failed_daemons_.insert(addresses_[candidate]);
      last_error = iterator.status();
      continue;
    }
    if (part->iterator != nullptr) part->iterator->Close().IgnoreError();
    part->iterator = *std::move(iterator);
    part->daemon = candidate;
    return absl::OkStatus();
  }
  return Failure(*part,
                 absl::StrCat("no surviving daemon to re-read the part (",
                              last_error.ToString(), ")"));
}

absl::StatusOr<std::unique_ptr<RemoteIterator>> ShardedIterator::Reopen(
    int daemon, const Part& part, int64_t skip) {
  ITERD_ASSIGN_OR_RETURN(std::unique_ptr<RemoteIterator> iterator,
                         OpenPart(daemon, part.part_index, part.seed));
  // The daemon's epoch counter moves on a reset that follows a read: read one
  // batch of each earlier epoch, so the part's order and augmentation are this
  // epoch's.
  for (int64_t epoch = 0; epoch < epoch_; ++epoch) {
    ITERD_RETURN_IF_ERROR(iterator->Next().status());
    ITERD_RETURN_IF_ERROR(iterator->Reset());
  }
  for (int64_t number = 0; number < skip; ++number) {
    ITERD_ASSIGN_OR_RETURN(std::optional<Batch> batch, iterator->Next());
    if (!batch.has_value()) {
      return absl::DataLossError(absl::StrCat(
          "part ", part.part_index, " re-read gave ", number,
          " batches, fewer than the ", skip, " already delivered"));
    }
  }
  return iterator;
}

}  // namespace iterd::client
