// File: common/concurrency/thread_pool.h
//
// ThreadPool: a fixed set of worker threads shared by every iterator of the
// daemon (parsing, decoding, batch production), so that many open iterators
// never create threads without limit.
//
// Schedule() never blocks; callers bound their own in-flight work (the
// Prefetcher keeps at most one production task per iterator, the CSV reader at
// most its prefetch depth of blocks), so the queue stays small. Tasks must not
// block waiting for other tasks of the same pool. Tasks report their own
// failures; an exception that still escapes one is logged and the worker goes
// on (never std::terminate for the whole daemon).
//
// Thread-safe. The destructor runs the tasks already queued, then joins the
// workers.

#ifndef ITERD_COMMON_CONCURRENCY_THREAD_POOL_H_
#define ITERD_COMMON_CONCURRENCY_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace iterd {

class ThreadPool final {
 public:
  // REQUIRES: num_threads >= 1.
  explicit ThreadPool(int num_threads);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool();

  void Schedule(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);

  int num_threads() const { return static_cast<int>(workers_.size()); }

 private:
  void WorkerLoop() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace iterd

#endif  // ITERD_COMMON_CONCURRENCY_THREAD_POOL_H_
