#include "server/service/shared_memory_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::service {
namespace {

// A read-only mapping of the region's read-only descriptor, as a client
// makes it after the hand-over.
struct ClientMapping {
  uint8_t* bytes = nullptr;
  size_t size = 0;
  ~ClientMapping() {
    if (bytes != nullptr) munmap(bytes, size);
  }
};

bool MapLikeClient(const SharedMemoryRegion& region, ClientMapping* mapping) {
  void* base = mmap(nullptr, region.total_bytes(), PROT_READ, MAP_SHARED,
                    region.read_only_fd(), 0);
  if (base == MAP_FAILED) return false;
  mapping->bytes = static_cast<uint8_t*>(base);
  mapping->size = region.total_bytes();
  return true;
}

TEST(SharedMemoryRegionTest, SlotBytesAreRoundedUpToPages) {
  auto region = SharedMemoryRegion::Create(5000, 3);
  ASSERT_TRUE(region.ok()) << region.status();
  EXPECT_EQ((*region)->slot_bytes(), 8192u);
  EXPECT_EQ((*region)->slots(), 3u);
  EXPECT_EQ((*region)->data_offset(), 0u);
  EXPECT_EQ((*region)->total_bytes(), 3 * 8192u);
  EXPECT_EQ((*region)->token().size(), SharedMemoryRegion::kTokenBytes);
}

TEST(SharedMemoryRegionTest, WrittenSlotsReadBackThroughTheReadOnlyFd) {
  auto region = SharedMemoryRegion::Create(4096, 2);
  ASSERT_TRUE(region.ok()) << region.status();
  SharedMemoryRegion& shared = **region;
  std::memset(shared.slot(0).data(), 0xab, shared.slot_bytes());
  std::memset(shared.slot(1).data(), 0xcd, shared.slot_bytes());

  ClientMapping mapping;
  ASSERT_TRUE(MapLikeClient(shared, &mapping));
  const uint8_t* slot1 = mapping.bytes + shared.slot_bytes();
  EXPECT_EQ(mapping.bytes[0], 0xab);
  EXPECT_EQ(slot1[0], 0xcd);
  EXPECT_EQ(slot1[shared.slot_bytes() - 1], 0xcd);
  // Later writes show through the existing mapping (it is shared, not a copy).
  shared.slot(1)[7] = 0x11;
  EXPECT_EQ(slot1[7], 0x11);
  // The token is nowhere in the region.
  EXPECT_EQ(std::search(mapping.bytes, mapping.bytes + mapping.size,
                        shared.token().begin(), shared.token().end()),
            mapping.bytes + mapping.size);
}

TEST(SharedMemoryRegionTest, ReadOnlyFdCannotWriteResizeOrUnseal) {
  auto region = SharedMemoryRegion::Create(4096, 2);
  ASSERT_TRUE(region.ok()) << region.status();
  const int fd = (*region)->read_only_fd();
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_EQ(mmap(nullptr, (*region)->total_bytes(), PROT_READ | PROT_WRITE,
                 MAP_SHARED, fd, 0),
            MAP_FAILED);
  EXPECT_NE(ftruncate(fd, 0), 0);
  const int seals = fcntl(fd, F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  struct stat file = {};
  ASSERT_EQ(fstat(fd, &file), 0);
  EXPECT_EQ(file.st_mode & 07777, 0u);  // Nobody may open it again.
  EXPECT_EQ(static_cast<size_t>(file.st_size), (*region)->total_bytes());
}

// Without CAP_DAC_OVERRIDE (any uid but root), the region cannot be opened
// again through /proc, not even by its own process. Checked in a child that
// drops to `nobody` before it makes the region.
TEST(SharedMemoryRegionTest, ProcPathCannotBeReopenedWithoutPrivilege) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (geteuid() == 0 && setresuid(65534, 65534, 65534) != 0) _exit(15);
    auto region = SharedMemoryRegion::Create(4096, 1);
    if (!region.ok()) _exit(11);
    // Both descriptors of the region: the memfd and the read-only one.
    int found = 0;
    for (int fd = 0; fd < 1024; ++fd) {
      const std::string path = "/proc/self/fd/" + std::to_string(fd);
      char target[256] = {};
      if (readlink(path.c_str(), target, sizeof(target) - 1) <= 0 ||
          std::strstr(target, "memfd:iterd-batches") == nullptr) {
        continue;
      }
      ++found;
      for (int flags : {O_RDONLY, O_RDWR}) {
        const int opened = open(path.c_str(), flags | O_CLOEXEC);
        if (opened >= 0) _exit(12);
        if (errno != EACCES) _exit(13);
      }
    }
    _exit(found == 2 ? 0 : 14);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 15) {
    // Bazel's sandbox maps only root into its user namespace.
    GTEST_SKIP() << "cannot drop to uid 65534 here; "
                    "tests/python/test_hostile_shm.py checks this outside";
  }
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "11: Create, 12: reopened, 13: other errno, 14: "
         "not two descriptors";
}

TEST(SharedMemoryRegionTest, TokensDifferBetweenRegions) {
  auto first = SharedMemoryRegion::Create(4096, 1);
  auto second = SharedMemoryRegion::Create(4096, 1);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE((*first)->token(), (*second)->token());
}

TEST(SharedMemoryRegionTest, DescriptorsCloseWithTheRegion) {
  auto region = SharedMemoryRegion::Create(4096, 1);
  ASSERT_TRUE(region.ok()) << region.status();
  const std::string path =
      "/proc/self/fd/" + std::to_string((*region)->read_only_fd());
  char target[256] = {};
  ASSERT_GT(readlink(path.c_str(), target, sizeof(target) - 1), 0);
  EXPECT_THAT(target, ::testing::HasSubstr("memfd:iterd-batches"));
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
