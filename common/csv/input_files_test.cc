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
using ::testing::Not;

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
  auto files = ListInputFiles(path, "a.csv", nullptr);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(InputFile{path, "a.csv"}));
}

TEST(ListInputFilesTest, FolderListsRegularFilesByNameWithoutRecursing) {
  const std::string dir = TempDir("list");
  WriteFile(dir + "/b.csv", "2\n");
  WriteFile(dir + "/a.csv", "1\n");
  WriteFile(dir + "/c.csv", "3\n");
  std::filesystem::create_directories(dir + "/sub");
  WriteFile(dir + "/sub/d.csv", "4\n");
  auto files = ListInputFiles(dir, "list", nullptr);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(InputFile{dir + "/a.csv", "list/a.csv"},
                                  InputFile{dir + "/b.csv", "list/b.csv"},
                                  InputFile{dir + "/c.csv", "list/c.csv"}));
}

TEST(ListInputFilesTest, WithoutAResolverASymlinkIsFollowed) {
  const std::string dir = TempDir("symlink");
  const std::string outside = TempDir("symlink_target") + "/real.csv";
  WriteFile(outside, "1\n");
  std::filesystem::create_symlink(outside, dir + "/link.csv");
  auto files = ListInputFiles(dir, "symlink", nullptr);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files,
              ElementsAre(InputFile{dir + "/link.csv", "symlink/link.csv"}));
}

// A resolver standing for the daemon's data-root policy: symlinks into
// `outside` are refused.
EntryResolver RefuseInto(const std::string& outside) {
  return [outside](const std::string& path) -> absl::StatusOr<std::string> {
    const std::string target = std::filesystem::canonical(path).string();
    if (target.rfind(outside, 0) == 0) {
      return absl::PermissionDeniedError("refused " + path);
    }
    return target;
  };
}

TEST(ListInputFilesTest, EveryEntryGoesThroughTheResolver) {
  const std::string dir = TempDir("policy");
  const std::string outside = TempDir("policy_outside");
  WriteFile(dir + "/a.csv", "1\n");
  WriteFile(outside + "/secret.csv", "2\n");
  std::filesystem::create_symlink(outside + "/secret.csv", dir + "/b.csv");
  auto files = ListInputFiles(dir, "policy", RefuseInto(outside));
  EXPECT_EQ(files.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(files.status().message(), HasSubstr("b.csv"));
}

TEST(ListInputFilesTest, AcceptedSymlinkOpensItsResolvedTarget) {
  const std::string dir = TempDir("accepted");
  WriteFile(dir + "/real.csv", "1\n");
  std::filesystem::create_symlink(dir + "/real.csv", dir + "/z.csv");
  auto files = ListInputFiles(dir, "accepted", RefuseInto("/nowhere"));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files,
              ElementsAre(InputFile{dir + "/real.csv", "accepted/real.csv"},
                          InputFile{dir + "/real.csv", "accepted/z.csv"}));
}

TEST(ListInputFilesTest, DanglingSymlinkAndSymlinkToAFolderAreSkipped) {
  const std::string dir = TempDir("dangling");
  WriteFile(dir + "/a.csv", "1\n");
  std::filesystem::create_symlink(dir + "/gone.csv", dir + "/b.csv");
  std::filesystem::create_directories(dir + "/sub");
  std::filesystem::create_symlink(dir + "/sub", dir + "/c.csv");
  const EntryResolver resolver =
      [](const std::string& path) -> absl::StatusOr<std::string> {
    std::error_code error;
    const auto target = std::filesystem::canonical(path, error);
    if (error) return absl::NotFoundError("gone");
    return target.string();
  };
  auto files = ListInputFiles(dir, "dangling", resolver);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(InputFile{dir + "/a.csv", "dangling/a.csv"}));
}

TEST(ListInputFilesTest, EmptyFolderListsNothing) {
  const std::string dir = TempDir("empty_folder");
  auto files = ListInputFiles(dir, "empty_folder", nullptr);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, IsEmpty());
}

TEST(ListInputFilesTest, MissingPathIsNotFoundNamingIt) {
  const std::string path = TempDir("gone") + "/nothing";
  auto files = ListInputFiles(path, "gone/nothing", nullptr);
  EXPECT_EQ(files.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(files.status().message(), HasSubstr("gone/nothing"));
  EXPECT_THAT(files.status().message(), Not(HasSubstr(path)));
}

}  // namespace
}  // namespace iterd::csv
