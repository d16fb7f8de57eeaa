#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/tensor/payload_pool.h"
#include "gtest/gtest.h"

namespace iterd {
namespace {

constexpr size_t kBufferBytes = 4096;

// Memory for `count` buffers whose release is observable.
struct Region {
  explicit Region(int count, bool* freed)
      : memory(new uint8_t[kBufferBytes * count], [freed](uint8_t* bytes) {
          delete[] bytes;
          *freed = true;
        }) {
    for (int i = 0; i < count; ++i) {
      buffers.push_back(memory.get() + i * kBufferBytes);
    }
  }
  std::shared_ptr<uint8_t> memory;
  std::vector<uint8_t*> buffers;
};

TEST(PayloadPoolRegionTest, HandsOutOnlyRegionBuffersFirstSlotFirst) {
  bool freed = false;
  Region region(2, &freed);
  auto pool =
      PayloadPool::CreateInRegion(kBufferBytes, region.buffers, region.memory);
  std::shared_ptr<uint8_t> first = pool->Acquire();
  std::shared_ptr<uint8_t> second = pool->Acquire();
  EXPECT_EQ(first.get(), region.buffers[0]);
  EXPECT_EQ(second.get(), region.buffers[1]);
  EXPECT_EQ(pool->allocations(), 0);
  EXPECT_EQ(pool->free_buffers(), 0);
}

TEST(PayloadPoolRegionTest, AcquireWaitsUntilABufferIsReleased) {
  bool freed = false;
  Region region(1, &freed);
  auto pool =
      PayloadPool::CreateInRegion(kBufferBytes, region.buffers, region.memory);
  std::shared_ptr<uint8_t> held = pool->Acquire();
  std::atomic<bool> acquired{false};
  uint8_t* got = nullptr;
  std::thread waiter([&] {
    got = pool->Acquire().get();
    acquired = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(acquired.load());  // Still waiting: no allocation.
  held.reset();
  waiter.join();
  EXPECT_TRUE(acquired.load());
  EXPECT_EQ(got, region.buffers[0]);
  EXPECT_EQ(pool->allocations(), 0);
}

TEST(PayloadPoolRegionTest, CancelWakesAWaiterWithAHeapBuffer) {
  bool freed = false;
  Region region(1, &freed);
  auto pool =
      PayloadPool::CreateInRegion(kBufferBytes, region.buffers, region.memory);
  std::shared_ptr<uint8_t> held = pool->Acquire();
  std::shared_ptr<uint8_t> fallback;
  absl::Notification done;
  std::thread waiter([&] {
    fallback = pool->Acquire();
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  pool->Cancel();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  waiter.join();
  ASSERT_NE(fallback, nullptr);
  EXPECT_NE(fallback.get(), region.buffers[0]);
  std::memset(fallback.get(), 1, kBufferBytes);  // Writable, full size.
  EXPECT_EQ(pool->allocations(), 1);
  // The heap buffer is freed, not pooled: the region buffer comes back.
  fallback.reset();
  held.reset();
  EXPECT_EQ(pool->free_buffers(), 1);
  EXPECT_EQ(pool->Acquire().get(), region.buffers[0]);
}

TEST(PayloadPoolRegionTest, RegionMemoryOutlivesPoolWhileABufferIsHeld) {
  bool freed = false;
  std::shared_ptr<uint8_t> held;
  {
    Region region(2, &freed);
    auto pool = PayloadPool::CreateInRegion(kBufferBytes, region.buffers,
                                            region.memory);
    held = pool->Acquire();
  }  // The pool and the caller's reference to the memory are gone.
  EXPECT_FALSE(freed);
  std::memset(held.get(), 7, kBufferBytes);  // Still mapped (ASan-checkable).
  held.reset();
  EXPECT_TRUE(freed);
}

TEST(PayloadPoolRegionTest, ManyThreadsNeverShareABuffer) {
  bool freed = false;
  Region region(3, &freed);
  auto pool =
      PayloadPool::CreateInRegion(kBufferBytes, region.buffers, region.memory);
  std::atomic<int> in_use[3] = {{0}, {0}, {0}};
  std::atomic<bool> overlap{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        std::shared_ptr<uint8_t> buffer = pool->Acquire();
        const int slot = (buffer.get() - region.memory.get()) / kBufferBytes;
        if (in_use[slot].fetch_add(1) != 0) overlap = true;
        in_use[slot].fetch_sub(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_EQ(pool->allocations(), 0);
  EXPECT_EQ(pool->free_buffers(), 3);
}

}  // namespace
}  // namespace iterd
