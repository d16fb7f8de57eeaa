#include "common/memory/large_buffer.h"

#include <cstdint>
#include <cstring>

#include "gtest/gtest.h"

namespace iterd {
namespace {

TEST(LargeBufferTest, LargeBuffersAreHugePageAlignedAndWritable) {
  const size_t bytes = (5 << 20) + 123;
  uint8_t* buffer = AllocateLargeBuffer(bytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer) % (2 << 20), 0u);
  std::memset(buffer, 0xab, bytes);
  EXPECT_EQ(buffer[bytes - 1], 0xab);
  FreeLargeBuffer(buffer, bytes);
}

TEST(LargeBufferTest, SmallBuffersAreCacheLineAligned) {
  for (size_t bytes :
       {size_t{0}, size_t{1}, size_t{4096}, size_t{(2 << 20) - 1}}) {
    uint8_t* buffer = AllocateLargeBuffer(bytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer) % 64, 0u) << bytes;
    if (bytes > 0) buffer[bytes - 1] = 1;
    FreeLargeBuffer(buffer, bytes);
  }
}

}  // namespace
}  // namespace iterd
