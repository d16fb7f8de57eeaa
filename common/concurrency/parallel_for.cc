#include "common/concurrency/parallel_for.h"

#include <algorithm>
#include <exception>
#include <memory>

#include "absl/synchronization/mutex.h"

namespace iterd {
namespace {

// Shared with the helper tasks, which may start after ParallelFor returned
// (they then find no item left and touch nothing but this state).
struct ForState {
  explicit ForState(int64_t count, const std::function<void(int64_t)>* body)
      : n(count), fn(body) {}

  const int64_t n;
  const std::function<void(int64_t)>* const fn;  // Only used for claimed items.
  absl::Mutex mu;
  int64_t next ABSL_GUARDED_BY(mu) = 0;
  int64_t done ABSL_GUARDED_BY(mu) = 0;
  // The first exception an item threw; ParallelFor rethrows it in its caller
  // once every started item has returned.
  std::exception_ptr error ABSL_GUARDED_BY(mu);
};

// Claims and runs items until none is left.
void RunItems(ForState* state) {
  while (true) {
    int64_t item;
    {
      absl::MutexLock lock(&state->mu);
      if (state->next >= state->n) return;
      item = state->next++;
    }
    // An exception must not leave a pool thread (that ends the process) nor
    // skip the count (ParallelFor would wait forever): it is kept for the
    // caller, and the items not yet claimed are skipped.
    std::exception_ptr error;
    try {
      (*state->fn)(item);
    } catch (...) {
      error = std::current_exception();
    }
    absl::MutexLock lock(&state->mu);
    ++state->done;
    if (error != nullptr) {
      if (state->error == nullptr) state->error = error;
      state->done += state->n - state->next;
      state->next = state->n;
    }
  }
}

}  // namespace

void ParallelFor(ThreadPool* pool, int parallelism, int64_t n,
                 const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  auto state = std::make_shared<ForState>(n, &fn);
  const int64_t helpers =
      std::min<int64_t>(std::max(parallelism, 1) - 1, n - 1);
  for (int64_t i = 0; i < helpers; ++i) {
    pool->Schedule([state] { RunItems(state.get()); });
  }
  RunItems(state.get());
  std::exception_ptr error;
  {
    absl::MutexLock lock(&state->mu);
    state->mu.Await(absl::Condition(
        +[](ForState* s)
             ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return s->done == s->n; },
        state.get()));
    error = state->error;
  }
  if (error != nullptr) std::rethrow_exception(error);
}

}  // namespace iterd
