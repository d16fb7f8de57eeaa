#include "common/io/held_file.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/io/mapped_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::io {
namespace {

using ::testing::HasSubstr;

class HeldFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    base_ = std::filesystem::canonical(tmp != nullptr ? tmp : "/tmp").string() +
            "/held_file";
    std::filesystem::remove_all(base_);
    std::filesystem::create_directories(base_ + "/root/dir");
    std::filesystem::create_directories(base_ + "/outside");
    std::ofstream(base_ + "/root/dir/a.csv") << "inside\n";
    std::ofstream(base_ + "/outside/a.csv") << "SECRET\n";
  }
  std::string base_;
};

TEST_F(HeldFileTest, HeldFileIsReadThroughItsProcPath) {
  auto held = HeldFile::Open(base_ + "/root/dir/a.csv", "dir/a.csv");
  ASSERT_TRUE(held.ok()) << held.status();
  auto mapped = MappedFile::Open(held->path());
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ((*mapped)->contents(), "inside\n");
}

TEST_F(HeldFileTest, DirectorySwappedForASymlinkIsRefused) {
  // Resolved as root/dir/a.csv; then dir is replaced by a link outside.
  std::filesystem::rename(base_ + "/root/dir", base_ + "/root/old");
  std::filesystem::create_directory_symlink(base_ + "/outside",
                                            base_ + "/root/dir");
  auto held = HeldFile::Open(base_ + "/root/dir/a.csv", "dir/a.csv");
  EXPECT_EQ(held.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(held.status().message(), HasSubstr("dir/a.csv"));
  EXPECT_THAT(held.status().message(), ::testing::Not(HasSubstr(base_)));
}

TEST_F(HeldFileTest, FileSwappedForASymlinkIsRefused) {
  std::filesystem::remove(base_ + "/root/dir/a.csv");
  std::filesystem::create_symlink(base_ + "/outside/a.csv",
                                  base_ + "/root/dir/a.csv");
  auto held = HeldFile::Open(base_ + "/root/dir/a.csv", "dir/a.csv");
  EXPECT_EQ(held.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(HeldFileTest, MissingFileIsNotFoundNamedByItsName) {
  auto held = HeldFile::Open(base_ + "/root/dir/none.csv", "dir/none.csv");
  EXPECT_EQ(held.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(held.status().message(), HasSubstr("dir/none.csv"));
}

TEST_F(HeldFileTest, MapHeldFileMapsTheCheckedFileOnly) {
  auto mapped = MapHeldFile(base_ + "/root/dir/a.csv", "dir/a.csv");
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ((*mapped)->contents(), "inside\n");

  std::filesystem::rename(base_ + "/root/dir", base_ + "/root/old");
  std::filesystem::create_directory_symlink(base_ + "/outside",
                                            base_ + "/root/dir");
  auto swapped = MapHeldFile(base_ + "/root/dir/a.csv", "dir/a.csv");
  EXPECT_EQ(swapped.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(swapped.status().message(), HasSubstr("dir/a.csv"));

  std::filesystem::create_directories(base_ + "/root/folder.csv");
  auto folder = MapHeldFile(base_ + "/root/folder.csv", "folder.csv");
  EXPECT_FALSE(folder.ok());
  EXPECT_THAT(folder.status().message(), HasSubstr("folder.csv"));
  EXPECT_THAT(folder.status().message(),
              ::testing::Not(HasSubstr("/proc/self/fd")));
}

}  // namespace
}  // namespace iterd::io
