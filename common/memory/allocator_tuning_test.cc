#include "common/memory/allocator_tuning.h"

#include <malloc.h>

#include <cstdlib>

#include "gtest/gtest.h"

namespace iterd {
namespace {

TEST(AllocatorTuningTest, AppliesOnceAndReportsTheSameResult) {
#ifdef __SANITIZE_ADDRESS__
  // AddressSanitizer brings its own malloc, whose mallopt() changes nothing.
  GTEST_SKIP() << "glibc's malloc is replaced under AddressSanitizer";
#endif
  unsetenv("ITERD_TUNE_MALLOC");
  unsetenv("MALLOC_MMAP_THRESHOLD_");
  unsetenv("MALLOC_TRIM_THRESHOLD_");
  EXPECT_TRUE(TuneAllocatorForStreaming());
  EXPECT_TRUE(TuneAllocatorForStreaming());
  // A freed 8 MB block now stays in the heap: allocating it again does not grow
  // the mapping count.
  void* block = std::malloc(8 << 20);
  ASSERT_NE(block, nullptr);
  std::free(block);
  const struct mallinfo2 before = mallinfo2();
  block = std::malloc(8 << 20);
  const struct mallinfo2 after = mallinfo2();
  std::free(block);
  EXPECT_EQ(after.hblks, before.hblks);  // Not served by a fresh mmap.
}

}  // namespace
}  // namespace iterd
