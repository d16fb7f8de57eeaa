#include "server/service/shared_memory_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::service {
namespace {

// Maps `path` read-only as a client on the same host does; null on failure.
struct ClientMapping {
  uint8_t* bytes = nullptr;
  size_t size = 0;
  ~ClientMapping() {
    if (bytes != nullptr) munmap(bytes, size);
  }
};

bool MapLikeClient(const std::string& path, size_t size,
                   ClientMapping* mapping) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  void* base = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) return false;
  mapping->bytes = static_cast<uint8_t*>(base);
  mapping->size = size;
  return true;
}

TEST(SharedMemoryRegionTest, SlotBytesAreRoundedUpToPages) {
  auto region = SharedMemoryRegion::Create(5000, 3);
  ASSERT_TRUE(region.ok()) << region.status();
  EXPECT_EQ((*region)->slot_bytes(), 8192u);
  EXPECT_EQ((*region)->slots(), 3u);
  EXPECT_EQ((*region)->data_offset(), 4096u);
  EXPECT_EQ((*region)->total_bytes(), 4096u + 3 * 8192u);
  EXPECT_EQ((*region)->token().size(), SharedMemoryRegion::kTokenBytes);
}

TEST(SharedMemoryRegionTest, WrittenSlotsReadBackThroughProcPath) {
  auto region = SharedMemoryRegion::Create(4096, 2);
  ASSERT_TRUE(region.ok()) << region.status();
  SharedMemoryRegion& shared = **region;
  EXPECT_THAT(shared.path(),
              ::testing::StartsWith("/proc/" + std::to_string(getpid())));
  std::memset(shared.slot(0).data(), 0xab, shared.slot_bytes());
  std::memset(shared.slot(1).data(), 0xcd, shared.slot_bytes());

  ClientMapping mapping;
  ASSERT_TRUE(MapLikeClient(shared.path(), shared.total_bytes(), &mapping));
  EXPECT_EQ(std::memcmp(mapping.bytes, SharedMemoryRegion::kMagic, 8), 0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(mapping.bytes) + 8, 16),
            shared.token());
  const uint8_t* slot1 =
      mapping.bytes + shared.data_offset() + shared.slot_bytes();
  EXPECT_EQ(mapping.bytes[shared.data_offset()], 0xab);
  EXPECT_EQ(slot1[0], 0xcd);
  EXPECT_EQ(slot1[shared.slot_bytes() - 1], 0xcd);
  // Later writes show through the existing mapping (it is shared, not a copy).
  shared.slot(1)[7] = 0x11;
  EXPECT_EQ(slot1[7], 0x11);
}

TEST(SharedMemoryRegionTest, TokensDifferBetweenRegions) {
  auto first = SharedMemoryRegion::Create(4096, 1);
  auto second = SharedMemoryRegion::Create(4096, 1);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE((*first)->token(), (*second)->token());
  EXPECT_NE((*first)->path(), (*second)->path());
}

TEST(SharedMemoryRegionTest, PathDisappearsWithTheRegion) {
  auto region = SharedMemoryRegion::Create(4096, 1);
  ASSERT_TRUE(region.ok()) << region.status();
  const std::string path = (*region)->path();
  EXPECT_EQ(access(path.c_str(), F_OK), 0);
  region->reset();
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST(SharedMemoryRegionTest, ZeroSizesAreInvalidArgument) {
  EXPECT_EQ(SharedMemoryRegion::Create(0, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SharedMemoryRegion::Create(4096, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SharedMemoryRegion::Create(~size_t{0} / 2, 1000).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace iterd::service
