// File: server/pipeline/prefetcher.h
//
// Prefetcher: runs a BatchIterator ahead of its consumer on the daemon's shared
// ThreadPool, keeping at most `depth` finished batches (or one error, or the
// end of the epoch) ready. At most one production task per Prefetcher is in
// flight, so an iterator never occupies more than one pool thread and its input
// is only ever touched by one thread at a time.
//
// Errors stick: once the input fails, GetNext() returns that error until
// Reset().
//
// Thread-safe. The destructor cancels and waits for the in-flight production
// task.

#ifndef ITERD_SERVER_PIPELINE_PREFETCHER_H_
#define ITERD_SERVER_PIPELINE_PREFETCHER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/concurrency/thread_pool.h"
#include "server/pipeline/batch_iterator.h"

namespace iterd::pipeline {

class Prefetcher final {
 public:
  // REQUIRES: depth >= 1; `pool` outlives the Prefetcher.
  Prefetcher(std::unique_ptr<BatchIterator> input, int depth, ThreadPool* pool);
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;
  ~Prefetcher();

  // Waits for the next batch (or the end of the epoch, with the stream's
  // position there in *end_position when it is not null). While waiting,
  // polls `is_cancelled` every `poll` and returns CancelledError when it says
  // so, or when Cancel() was called.
  absl::Status GetNext(std::shared_ptr<const Batch>* batch, bool* end_of_epoch,
                       const std::function<bool()>& is_cancelled = nullptr,
                       absl::Duration poll = absl::Milliseconds(100),
                       StreamPosition* end_position = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until the first result is ready and returns its status without
  // consuming it: an open iterator reports bad data at once, as MXNet's
  // constructors do.
  // Polls `is_cancelled` like GetNext(), so an abandoned open does not hold its
  // thread.
  absl::Status WaitForFirst(const std::function<bool()>& is_cancelled = nullptr,
                            absl::Duration poll = absl::Milliseconds(100))
      ABSL_LOCKS_EXCLUDED(mu_);

  // Drops prefetched batches and starts the next epoch of the input.
  // `batches_consumed` is how many batches of this epoch the final consumer
  // took (a remote client may not have used every batch it was sent); unset
  // means the batches GetNext() handed out. The epoch counts as finished, and
  // MXNet's carry-over applies, only when the input reached its end and every
  // batch was consumed.
  // The position of the new epoch's start goes to *after when it is not null.
  absl::Status Reset(std::optional<int64_t> batches_consumed = std::nullopt,
                     StreamPosition* after = nullptr) ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `fn` on the input while no production task runs (to read its state
  // consistently).
  void WithInputExclusive(const std::function<void(BatchIterator*)>& fn)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Makes every current and future GetNext() return CancelledError and stops
  // production.
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);

  const BatchIterator& input() const { return *input_; }

  // Batches the input produced since the prefetcher started (all epochs).
  int64_t batches_produced() ABSL_LOCKS_EXCLUDED(mu_);
  // Batches produced and waiting for GetNext() (not the end of the epoch).
  int64_t queued_batches() ABSL_LOCKS_EXCLUDED(mu_);

  // Batch::epoch of the last batch GetNext() handed out (0 before any): what a
  // Fetch stream reports as the epoch that ended.
  int64_t last_delivered_epoch() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Result {
    absl::Status status;
    std::shared_ptr<const Batch> batch;
    bool end_of_epoch = false;
    StreamPosition end_position;  // With end_of_epoch.
  };

  void MaybeScheduleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Produce() ABSL_LOCKS_EXCLUDED(mu_);
  void WaitIdleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits until a result is queued; CancelledError if `is_cancelled` says so
  // (polled every `poll`) or Cancel() was called.
  absl::Status WaitForHeadLocked(const std::function<bool()>& is_cancelled,
                                 absl::Duration poll)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<BatchIterator> input_;
  const int depth_;
  ThreadPool* const pool_;

  absl::Mutex mu_;
  std::deque<Result> ready_ ABSL_GUARDED_BY(mu_);
  bool producing_ ABSL_GUARDED_BY(mu_) = false;
  // No more production this epoch: the end of the epoch or an error is queued.
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // This epoch: batches the input produced, batches GetNext() handed out, and
  // whether the input reported the end of the epoch.
  int64_t produced_in_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t delivered_in_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t produced_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool end_reached_ ABSL_GUARDED_BY(mu_) = false;
  // Holds production off while Reset() or WithInputExclusive() works on the
  // input.
  int exclusive_users_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_PREFETCHER_H_
