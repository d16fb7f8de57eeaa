#include "tools/im2rec/ordered_pipeline.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/concurrency/thread_pool.h"

namespace iterd::im2rec {
namespace {

// Results by index modulo the window: index i may only be scheduled once
// index i - window has been consumed, so a slot is never shared.
class ResultWindow final {
 public:
  explicit ResultWindow(size_t size) : slots_(size) {}

  void Put(size_t index, absl::StatusOr<std::string> result)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    slots_[index % slots_.size()] = std::move(result);
  }

  absl::StatusOr<std::string> Take(size_t index) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    std::optional<absl::StatusOr<std::string>>* slot =
        &slots_[index % slots_.size()];
    mu_.Await(absl::Condition(
        +[](std::optional<absl::StatusOr<std::string>>* s) {
          return s->has_value();
        },
        slot));
    absl::StatusOr<std::string> result = std::move(**slot);
    slot->reset();
    return result;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::optional<absl::StatusOr<std::string>>> slots_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::Status RunOrdered(
    size_t count, int num_threads, size_t max_in_flight,
    const std::function<absl::StatusOr<std::string>(size_t index)>& produce,
    const std::function<absl::Status(
        size_t index, absl::StatusOr<std::string> result)>& consume) {
  ResultWindow window(max_in_flight);
  absl::Status status;
  {
    // Declared after `window`: its destructor finishes the tasks in flight
    // (which write into `window`) before `window` goes away.
    ThreadPool pool(num_threads);
    size_t scheduled = 0;
    for (size_t next = 0; next < count; ++next) {
      while (scheduled < count && scheduled < next + max_in_flight) {
        const size_t index = scheduled++;
        pool.Schedule(
            [&window, &produce, index] { window.Put(index, produce(index)); });
      }
      status = consume(next, window.Take(next));
      if (!status.ok()) break;
    }
  }
  return status;
}

}  // namespace iterd::im2rec
