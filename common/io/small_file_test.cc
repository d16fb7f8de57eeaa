#include "common/io/small_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::io {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir == nullptr ? "/tmp" : dir) + "/" + name;
}

TEST(ReadSmallFileTest, ReadsWholeFileWithinTheBound) {
  const std::string path = TempPath("small.txt");
  std::ofstream(path) << "name 0123456789\n";
  absl::StatusOr<std::string> text = ReadSmallFile(path, 16);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "name 0123456789\n");
}

TEST(ReadSmallFileTest, RefusesLongerThanTheBound) {
  const std::string path = TempPath("long.txt");
  std::ofstream(path) << std::string(100, 'x');
  absl::StatusOr<std::string> text = ReadSmallFile(path, 99);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(text.status().message(), HasSubstr("long.txt: longer than 99"));
}

TEST(ReadSmallFileTest, NamesAMissingFile) {
  absl::StatusOr<std::string> text = ReadSmallFile(TempPath("absent"), 10);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(text.status().message(), HasSubstr("absent"));
}

TEST(ReadSmallFileTest, RefusesDevicesAndFifosWithoutBlocking) {
  EXPECT_EQ(ReadSmallFile("/dev/zero", 10).status().code(),
            absl::StatusCode::kFailedPrecondition);
  const std::string fifo = TempPath("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(ReadSmallFile(fifo, 10).status().code(),
            absl::StatusCode::kFailedPrecondition);
  unlink(fifo.c_str());
}

TEST(ReadSmallFileTest, ReadsProcEntriesWhoseSizeIsZero) {
  absl::StatusOr<std::string> text = ReadSmallFile("/proc/self/statm", 4096);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_FALSE(text->empty());
}

}  // namespace
}  // namespace iterd::io
