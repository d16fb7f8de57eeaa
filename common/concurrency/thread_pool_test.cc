#include "common/concurrency/thread_pool.h"

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace iterd {
namespace {

TEST(ThreadPoolTest, RunsEveryScheduledTask) {
  std::atomic<int> count{0};
  {
    ThreadPool pool(2);
    for (int i = 0; i < 1000; ++i) pool.Schedule([&count] { ++count; });
  }  // The destructor drains the queue.
  EXPECT_EQ(count.load(), 1000);
}

TEST(ThreadPoolTest, UsesAtMostItsThreads) {
  absl::Mutex mu;
  std::set<std::thread::id> ids;
  {
    ThreadPool pool(3);
    for (int i = 0; i < 200; ++i) {
      pool.Schedule([&] {
        absl::MutexLock lock(&mu);
        ids.insert(std::this_thread::get_id());
      });
    }
  }
  EXPECT_GE(ids.size(), 1u);
  EXPECT_LE(ids.size(), 3u);
}

TEST(ThreadPoolTest, ATaskThatThrowsDoesNotStopItsWorker) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(1);
    pool.Schedule([] { throw std::runtime_error("a careless task"); });
    pool.Schedule([] { throw 42; });
    for (int i = 0; i < 10; ++i) pool.Schedule([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 10);
}

}  // namespace
}  // namespace iterd
