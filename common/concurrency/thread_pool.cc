#include "common/concurrency/thread_pool.h"

#include <utility>

#include "common/logging.h"
#include "common/status/exception_status.h"

namespace iterd {

ThreadPool::ThreadPool(int num_threads) {
  workers_.reserve(num_threads);
  for (int i = 0; i < num_threads; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::Schedule(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  tasks_.push_back(std::move(task));
}

void ThreadPool::WorkerLoop() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ThreadPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
            return pool->stopping_ || !pool->tasks_.empty();
          },
          this));
      if (tasks_.empty()) return;  // Stopping and drained.
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    // Last resort: tasks handle their own failures (the Prefetcher, the CSV
    // reader and ParallelFor turn exceptions into statuses for their owner).
    // One that does not must not take the daemon, and every other client's
    // work, down with it.
    try {
      task();
    } catch (...) {
      ITERD_LOG(ERROR) << "a pool task threw: "
                       << CurrentExceptionStatus("running a pool task");
    }
  }
}

}  // namespace iterd
