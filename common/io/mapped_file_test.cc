#include "common/io/mapped_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::io {
namespace {

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

std::string BytesOf(const MappedFile& file) {
  return std::string(reinterpret_cast<const char*>(file.data()), file.size());
}

TEST(MappedFileTest, MapsTheWholeFile) {
  const std::string path = TempDir("whole") + "/a.csv";
  WriteFile(path, "1,2\n3,4\n");
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->size(), 8u);
  EXPECT_EQ(BytesOf(**file), "1,2\n3,4\n");
  EXPECT_EQ((*file)->contents(), "1,2\n3,4\n");
  EXPECT_EQ((*file)->path(), path);
}

TEST(MappedFileTest, BinaryBytesIncludingZerosArePreserved) {
  const std::string path = TempDir("binary") + "/a.npy";
  const std::string bytes("\x93NUMPY\x00\x01\xff\x00", 10);
  WriteFile(path, bytes);
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(BytesOf(**file), bytes);
  EXPECT_EQ((*file)->data()[8], 0xff);
}

TEST(MappedFileTest, FileLargerThanAPageIsMappedToTheLastByte) {
  const std::string path = TempDir("large") + "/big.bin";
  std::string bytes(3 * 4096 + 17, 'x');
  bytes.back() = 'z';
  WriteFile(path, bytes);
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ((*file)->size(), bytes.size());
  EXPECT_EQ((*file)->data()[bytes.size() - 1], 'z');
}

TEST(MappedFileTest, EmptyFileHasNullDataAndZeroSize) {
  const std::string path = TempDir("empty") + "/a.csv";
  WriteFile(path, "");
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->data(), nullptr);
  EXPECT_EQ((*file)->size(), 0u);
  EXPECT_TRUE((*file)->contents().empty());
}

TEST(MappedFileTest, MissingFileIsNotFoundNamingThePath) {
  const std::string path = TempDir("missing") + "/nope.csv";
  auto file = MappedFile::Open(path);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(file.status().message(), HasSubstr(path));
}

TEST(MappedFileTest, FolderIsInvalidArgumentNamingThePath) {
  const std::string dir = TempDir("folder");
  auto file = MappedFile::Open(dir);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(file.status().message(), HasSubstr(dir));
}

TEST(MappedFileTest, FifoIsInvalidArgumentPromptlyWithoutWaitingForAWriter) {
  // A blocking open() of a FIFO with no writer never returns; a FIFO under a
  // data root must be refused at once, not hang the pool thread opening it.
  const std::string path = TempDir("fifo") + "/pipe.csv";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto opened = std::async(std::launch::async,
                           [&path] { return MappedFile::Open(path); });
  if (opened.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    // Connect a writer so the blocked open() returns and the test can end.
    const int writer = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
    if (writer >= 0) ::close(writer);
    FAIL() << "MappedFile::Open blocked on a FIFO";
  }
  auto file = opened.get();
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(file.status().message(), HasSubstr(path));
  EXPECT_THAT(file.status().message(), HasSubstr("is not a regular file"));
}

TEST(MappedFileTest, UnreadableFileIsPermissionDeniedNamingThePath) {
  const std::string path = TempDir("unreadable") + "/secret.csv";
  WriteFile(path, "1\n");
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  if (::access(path.c_str(), R_OK) == 0) {
    GTEST_SKIP() << "running with permission to read mode-000 files (root)";
  }
  auto file = MappedFile::Open(path);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(file.status().message(), HasSubstr(path));
}

TEST(MappedFileTest, BytesStayReadableWhileAnOwnerOutlivesTheOpenerAndFile) {
  // An array loaded from a .npy keeps a copy of the shared_ptr; the loader's
  // copy and even the file on disk may be gone before the array is read.
  const std::string path = TempDir("keep_alive") + "/a.npy";
  WriteFile(path, "payload");
  std::shared_ptr<const void> keep_alive;
  const uint8_t* data = nullptr;
  {
    auto file = MappedFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.status();
    data = (*file)->data();
    keep_alive = *file;
  }
  ASSERT_TRUE(std::filesystem::remove(path));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(data), 7), "payload");
}

TEST(MappedFileTest, EveryAccessPatternMapsTheSameBytes) {
  const std::string path = TempDir("patterns") + "/a.csv";
  const std::string bytes(10000, 'q');
  WriteFile(path, bytes);
  for (AccessPattern pattern :
       {AccessPattern::kNormal, AccessPattern::kSequential,
        AccessPattern::kRandom}) {
    auto file = MappedFile::Open(path, pattern);
    ASSERT_TRUE(file.ok()) << file.status();
    EXPECT_EQ(BytesOf(**file), bytes) << static_cast<int>(pattern);
  }
}

TEST(MappedFileTest, ConcurrentReadersSeeTheSameBytes) {
  const std::string path = TempDir("threads") + "/a.bin";
  std::string bytes(1 << 16, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i);
  WriteFile(path, bytes);
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<uint64_t> sums(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < sums.size(); ++t) {
    threads.emplace_back([&sums, t, shared = *file] {
      for (size_t i = 0; i < shared->size(); ++i) sums[t] += shared->data()[i];
    });
  }
  for (std::thread& thread : threads) thread.join();
  uint64_t expected = 0;
  for (char c : bytes) expected += static_cast<uint8_t>(c);
  for (uint64_t sum : sums) EXPECT_EQ(sum, expected);
}

}  // namespace
}  // namespace iterd::io
