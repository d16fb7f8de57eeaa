#include "common/concurrency/parallel_for.h"

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace iterd {
namespace {

TEST(ParallelForTest, RunsEveryItemExactlyOnce) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> hits(1000);
  ParallelFor(&pool, 3, hits.size(), [&](int64_t i) { ++hits[i]; });
  for (auto& hit : hits) EXPECT_EQ(hit.load(), 1);
}

TEST(ParallelForTest, UsesTheCallerAndThePool) {
  ThreadPool pool(2);
  absl::Mutex mu;
  std::set<std::thread::id> threads;
  ParallelFor(&pool, 3, 200, [&](int64_t) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    absl::MutexLock lock(&mu);
    threads.insert(std::this_thread::get_id());
  });
  EXPECT_GE(threads.size(), 2u);
  EXPECT_LE(threads.size(), 3u);
}

TEST(ParallelForTest, NestedInEveryPoolThreadDoesNotDeadlock) {
  // Both pool threads run a ParallelFor whose helpers queue behind them: the
  // callers do the work.
  ThreadPool pool(2);
  std::atomic<int> total{0};
  absl::Mutex mu;
  int finished = 0;
  for (int outer = 0; outer < 2; ++outer) {
    pool.Schedule([&] {
      ParallelFor(&pool, 4, 100, [&](int64_t) { ++total; });
      absl::MutexLock lock(&mu);
      ++finished;
    });
  }
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](int* f) { return *f == 2; }, &finished));
  EXPECT_EQ(total.load(), 200);
}

TEST(ParallelForTest, AnItemsExceptionReachesTheCallerAndThePoolSurvives) {
  ThreadPool pool(2);
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> ran{0};
    // Whichever thread runs item 7 (a pool helper or the caller), the
    // exception comes out of ParallelFor, after every started item returned.
    EXPECT_THROW(ParallelFor(&pool, 3, 1000,
                             [&](int64_t i) {
                               ++ran;
                               if (i == 7) throw std::runtime_error("item 7");
                             }),
                 std::runtime_error);
    EXPECT_GE(ran.load(), 8);
    // The items after the failure were skipped, and the pool still works.
    std::atomic<int> total{0};
    ParallelFor(&pool, 3, 100, [&](int64_t) { ++total; });
    EXPECT_EQ(total.load(), 100);
  }
}

TEST(ParallelForTest, ZeroItemsAndParallelismOneRunInline) {
  ThreadPool pool(1);
  ParallelFor(&pool, 4, 0, [](int64_t) { FAIL(); });
  const std::thread::id caller = std::this_thread::get_id();
  ParallelFor(&pool, 1, 5,
              [&](int64_t) { EXPECT_EQ(std::this_thread::get_id(), caller); });
}

}  // namespace
}  // namespace iterd
