#include "common/csv/input_files.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::csv {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string TempDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(root != nullptr ? root : "/tmp") + "/input_files_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

TEST(ListInputFilesTest, FileStandsForItself) {
  const std::string path = TempDir("single") + "/a.csv";
  WriteFile(path, "1\n");
  auto files = ListInputFiles(path);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(path));
}

TEST(ListInputFilesTest, FolderListsRegularFilesByNameWithoutRecursing) {
  const std::string dir = TempDir("list");
  WriteFile(dir + "/b.csv", "2\n");
  WriteFile(dir + "/a.csv", "1\n");
  WriteFile(dir + "/c.csv", "3\n");
  std::filesystem::create_directories(dir + "/sub");
  WriteFile(dir + "/sub/d.csv", "4\n");
  auto files = ListInputFiles(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files,
              ElementsAre(dir + "/a.csv", dir + "/b.csv", dir + "/c.csv"));
}

TEST(ListInputFilesTest, SymlinkToAFileInTheFolderIsFollowed) {
  const std::string dir = TempDir("symlink");
  const std::string outside = TempDir("symlink_target") + "/real.csv";
  WriteFile(outside, "1\n");
  std::filesystem::create_symlink(outside, dir + "/link.csv");
  auto files = ListInputFiles(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(dir + "/link.csv"));
}

TEST(ListInputFilesTest, EmptyFolderListsNothing) {
  const std::string dir = TempDir("empty_folder");
  auto files = ListInputFiles(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, IsEmpty());
}

TEST(ListInputFilesTest, MissingPathIsNotFoundNamingIt) {
  const std::string path = TempDir("gone") + "/nothing";
  auto files = ListInputFiles(path);
  EXPECT_EQ(files.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(files.status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace iterd::csv
