#include "server/pipeline/prefetcher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/exception_status.h"
#include "common/status/status_macros.h"

namespace iterd::pipeline {

Prefetcher::Prefetcher(std::unique_ptr<BatchIterator> input, int depth,
                       ThreadPool* pool)
    : input_(std::move(input)), depth_(depth < 1 ? 1 : depth), pool_(pool) {
  absl::MutexLock lock(&mu_);
  MaybeScheduleLocked();
}

Prefetcher::~Prefetcher() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  WaitIdleLocked();  // The task references `this`.
}

void Prefetcher::MaybeScheduleLocked() {
  if (producing_ || stopped_ || cancelled_ || exclusive_users_ > 0 ||
      static_cast<int>(ready_.size()) >= depth_) {
    return;
  }
  producing_ = true;
  pool_->Schedule([this] { Produce(); });
}

void Prefetcher::Produce() {
  Result result;
  // Only this task touches input_ while producing_ is set, so no lock is held
  // while it works.
  std::shared_ptr<Batch> batch;
  // A pool thread runs client-configured pipeline code: an exception escaping
  // here would end the daemon, so it becomes this iterator's (sticky) error.
  try {
    result.status = input_->GetNext(&batch, &result.end_of_epoch);
    if (result.status.ok() && result.end_of_epoch) {
      result.end_position = input_->position();
    }
  } catch (...) {
    result.status = CurrentExceptionStatus("producing a batch");
  }
  result.batch = std::move(batch);
  absl::MutexLock lock(&mu_);
  producing_ = false;
  if (!result.status.ok() || result.end_of_epoch) stopped_ = true;
  if (result.status.ok()) {
    if (result.end_of_epoch) {
      end_reached_ = true;
    } else {
      ++produced_in_epoch_;
      ++produced_total_;
    }
  }
  ready_.push_back(std::move(result));
  MaybeScheduleLocked();
}

void Prefetcher::WaitIdleLocked() {
  mu_.Await(absl::Condition(
      +[](bool* producing) { return !*producing; }, &producing_));
}

absl::Status Prefetcher::WaitForHeadLocked(
    const std::function<bool()>& is_cancelled, absl::Duration poll) {
  auto ready_or_cancelled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cancelled_ || !ready_.empty();
  };
  while (!mu_.AwaitWithTimeout(absl::Condition(&ready_or_cancelled), poll)) {
    if (is_cancelled && is_cancelled()) {
      return absl::CancelledError("the client cancelled the call");
    }
  }
  if (cancelled_) return absl::CancelledError("the iterator was closed");
  return absl::OkStatus();
}

absl::Status Prefetcher::GetNext(std::shared_ptr<const Batch>* batch,
                                 bool* end_of_epoch,
                                 const std::function<bool()>& is_cancelled,
                                 absl::Duration poll,
                                 StreamPosition* end_position) {
  *end_of_epoch = false;
  absl::MutexLock lock(&mu_);
  ITERD_RETURN_IF_ERROR(WaitForHeadLocked(is_cancelled, poll));
  Result& head = ready_.front();
  if (!head.status.ok()) return head.status;  // Sticky until Reset().
  if (head.end_of_epoch) {
    *end_of_epoch = true;  // Stays queued: the epoch is over until Reset().
    if (end_position != nullptr) *end_position = head.end_position;
    return absl::OkStatus();
  }
  *batch = std::move(head.batch);
  ready_.pop_front();
  ++delivered_in_epoch_;
  epoch_ = (*batch)->epoch;
  MaybeScheduleLocked();
  return absl::OkStatus();
}

absl::Status Prefetcher::WaitForFirst(const std::function<bool()>& is_cancelled,
                                      absl::Duration poll) {
  absl::MutexLock lock(&mu_);
  ITERD_RETURN_IF_ERROR(WaitForHeadLocked(is_cancelled, poll));
  return ready_.front().status;
}

absl::Status Prefetcher::Reset(std::optional<int64_t> batches_consumed,
                               StreamPosition* after) {
  absl::MutexLock lock(&mu_);
  ++exclusive_users_;
  WaitIdleLocked();
  if (batches_consumed.has_value() &&
      (*batches_consumed < 0 || *batches_consumed > delivered_in_epoch_)) {
    // A client cannot have used more batches than it was sent.
    const int64_t delivered = delivered_in_epoch_;
    --exclusive_users_;
    MaybeScheduleLocked();
    return absl::InvalidArgumentError(absl::StrCat(
        "batches_consumed: ", *batches_consumed, " is not between 0 and the ",
        delivered, " batches sent this epoch"));
  }
  const bool epoch_finished =
      end_reached_ &&
      batches_consumed.value_or(delivered_in_epoch_) >= produced_in_epoch_;
  ready_.clear();
  stopped_ = false;
  end_reached_ = false;
  produced_in_epoch_ = 0;
  delivered_in_epoch_ = 0;
  // Holding mu_ while the input resets is fine: no production task can be
  // waiting for it.
  absl::Status status;
  try {  // Keeps exclusive_users_ balanced if the input throws.
    status = input_->Reset(epoch_finished);
    if (status.ok() && after != nullptr) *after = input_->position();
  } catch (...) {
    status = CurrentExceptionStatus("resetting the iterator");
  }
  --exclusive_users_;
  if (!status.ok()) {
    stopped_ = true;
    ready_.push_back({status, nullptr, false, {}});
    return status;
  }
  MaybeScheduleLocked();
  return absl::OkStatus();
}

void Prefetcher::WithInputExclusive(
    const std::function<void(BatchIterator*)>& fn) {
  absl::MutexLock lock(&mu_);
  ++exclusive_users_;
  WaitIdleLocked();
  fn(input_.get());
  --exclusive_users_;
  MaybeScheduleLocked();
}

int64_t Prefetcher::batches_produced() {
  absl::MutexLock lock(&mu_);
  return produced_total_;
}

int64_t Prefetcher::queued_batches() {
  absl::MutexLock lock(&mu_);
  int64_t queued = 0;
  for (const Result& result : ready_) queued += result.batch != nullptr;
  return queued;
}

int64_t Prefetcher::last_delivered_epoch() {
  absl::MutexLock lock(&mu_);
  return epoch_;
}

void Prefetcher::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

}  // namespace iterd::pipeline
