#include "common/tensor/payload_pool.h"

#include <memory>

#include "gtest/gtest.h"

namespace iterd {
namespace {

TEST(PayloadPoolTest, ReleasedBufferIsReused) {
  auto pool = PayloadPool::Create(1 << 20, 2);
  uint8_t* first = nullptr;
  {
    std::shared_ptr<uint8_t> buffer = pool->Acquire();
    first = buffer.get();
  }
  std::shared_ptr<uint8_t> again = pool->Acquire();
  EXPECT_EQ(again.get(), first);
  EXPECT_EQ(pool->allocations(), 1);
}

TEST(PayloadPoolTest, BufferStillHeldIsNotHandedOut) {
  auto pool = PayloadPool::Create(64, 2);
  std::shared_ptr<uint8_t> held = pool->Acquire();
  std::shared_ptr<uint8_t> copy = held;  // A stream still sending it.
  held.reset();
  std::shared_ptr<uint8_t> other = pool->Acquire();
  EXPECT_NE(other.get(), copy.get());
  EXPECT_EQ(pool->allocations(), 2);
}

TEST(PayloadPoolTest, KeepsAtMostMaxFreeBuffers) {
  auto pool = PayloadPool::Create(64, 1);
  {
    auto a = pool->Acquire();
    auto b = pool->Acquire();
    auto c = pool->Acquire();
  }  // Only one of the three is kept.
  auto a = pool->Acquire();
  auto b = pool->Acquire();
  EXPECT_EQ(pool->allocations(), 4);
}

TEST(PayloadPoolTest, BufferMayOutliveItsPool) {
  auto pool = PayloadPool::Create(64, 1);
  std::shared_ptr<uint8_t> buffer = pool->Acquire();
  pool.reset();
  buffer.get()[0] = 1;  // Still valid; freed when released.
  buffer.reset();
}

}  // namespace
}  // namespace iterd
