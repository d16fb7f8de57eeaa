#include "common/csv/mapped_file.h"

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

std::string TempDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(root != nullptr ? root : "/tmp") + "/mapped_file_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

TEST(MappedFileTest, MapsTheWholeFile) {
  const std::string path = TempDir("whole") + "/a.csv";
  WriteFile(path, "1,2\n3,4\n");
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->contents(), "1,2\n3,4\n");
  EXPECT_EQ((*file)->path(), path);
}

TEST(MappedFileTest, EmptyFileHasEmptyContents) {
  const std::string path = TempDir("empty") + "/a.csv";
  WriteFile(path, "");
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->contents().empty());
}

TEST(MappedFileTest, MissingFileIsNotFoundNamingThePath) {
  const std::string path = TempDir("missing") + "/nope.csv";
  auto file = MappedFile::Open(path);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(file.status().message(), HasSubstr(path));
}

TEST(MappedFileTest, FolderIsNotARegularFile) {
  const std::string dir = TempDir("folder");
  EXPECT_EQ(MappedFile::Open(dir).status().code(),
            absl::StatusCode::kInvalidArgument);
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

TEST(ListInputFilesTest, MissingPathIsNotFoundNamingIt) {
  const std::string path = TempDir("gone") + "/nothing";
  auto files = ListInputFiles(path);
  EXPECT_EQ(files.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(files.status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace iterd::csv
