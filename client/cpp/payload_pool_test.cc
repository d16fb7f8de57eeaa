#include "client/cpp/payload_pool.h"

#include <cstdint>
#include <memory>
#include <thread>

#include "gtest/gtest.h"

namespace iterd::client {
namespace {

TEST(PayloadPoolTest, ReleasedBufferIsReusedForTheSameSize) {
  std::shared_ptr<PayloadPool> pool = PayloadPool::Create();
  const uint8_t* first_address;
  {
    std::shared_ptr<PayloadBuffer> first = pool->Acquire(1000);
    first_address = first->data();
    EXPECT_EQ(first->size(), 1000u);
  }
  EXPECT_EQ(pool->num_free(), 1u);
  std::shared_ptr<PayloadBuffer> second = pool->Acquire(900);
  EXPECT_EQ(second->data(), first_address);
  EXPECT_EQ(second->size(), 900u);
  EXPECT_EQ(pool->num_free(), 0u);
}

TEST(PayloadPoolTest, BufferMoreThanTwiceTooLargeIsNotReused) {
  std::shared_ptr<PayloadPool> pool = PayloadPool::Create();
  pool->Acquire(1000).reset();
  std::shared_ptr<PayloadBuffer> small = pool->Acquire(100);
  EXPECT_EQ(small->capacity(), 100u);
  EXPECT_EQ(pool->num_free(), 1u);
}

TEST(PayloadPoolTest, KeepsAtMostMaxFreeBuffers) {
  std::shared_ptr<PayloadPool> pool = PayloadPool::Create(/*max_free=*/2);
  {
    std::shared_ptr<PayloadBuffer> a = pool->Acquire(10);
    std::shared_ptr<PayloadBuffer> b = pool->Acquire(10);
    std::shared_ptr<PayloadBuffer> c = pool->Acquire(10);
  }
  EXPECT_EQ(pool->num_free(), 2u);
}

TEST(PayloadPoolTest, BufferOutlivesItsPoolAndIsReleasedOnAnotherThread) {
  std::shared_ptr<PayloadBuffer> buffer;
  {
    std::shared_ptr<PayloadPool> pool = PayloadPool::Create();
    buffer = pool->Acquire(64);
  }
  buffer->data()[63] = 7;
  std::thread releaser([moved = std::move(buffer)]() mutable {
    EXPECT_EQ(moved->data()[63], 7);
    moved.reset();
  });
  releaser.join();
}

TEST(PayloadPoolTest, BuffersAreAlignedTo64Bytes) {
  std::shared_ptr<PayloadPool> pool = PayloadPool::Create();
  std::shared_ptr<PayloadBuffer> buffer = pool->Acquire(3);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer->data()) % 64, 0u);
}

}  // namespace
}  // namespace iterd::client
