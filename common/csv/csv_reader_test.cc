#include "common/csv/csv_reader.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/concurrency/thread_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::csv {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string TempDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(root != nullptr ? root : "/tmp") + "/csv_reader_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// Rows "i,2i" for i in [0, n), with a blank line after every 7th row so that
// file lines and rows differ.
std::string PairRows(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&text, i, ",", 2 * i, "\n");
    if (i % 7 == 6) text += "\n";
  }
  return text;
}

CsvReaderOptions Int32Pairs(size_t block_size_bytes) {
  CsvReaderOptions options;
  options.format.dtype = DType::kInt32;
  options.format.values_per_row = 2;
  options.block_size_bytes = block_size_bytes;
  options.max_blocks_in_flight = 3;
  return options;
}

std::vector<int32_t> ToInts(absl::Span<const uint8_t> row) {
  std::vector<int32_t> values(row.size() / sizeof(int32_t));
  std::memcpy(values.data(), row.data(), row.size());
  return values;
}

// Reads up to `limit` rows; returns the first value of each.
absl::Status ReadFirstValues(CsvReader* reader, int limit,
                             std::vector<int32_t>* firsts) {
  for (int i = 0; i < limit; ++i) {
    absl::Span<const uint8_t> row;
    bool end = false;
    absl::Status status = reader->Next(&row, &end);
    if (!status.ok()) return status;
    if (end) break;
    firsts->push_back(ToInts(row)[0]);
  }
  return absl::OkStatus();
}

std::vector<int32_t> Iota(int n) {
  std::vector<int32_t> values(n);
  for (int i = 0; i < n; ++i) values[i] = i;
  return values;
}

TEST(CsvReaderTest, TinyBlocksKeepRowsInOrderAndValuesIntact) {
  const std::string path =
      WriteFile(TempDir("order") + "/a.csv", PairRows(2000));
  ThreadPool pool(2);
  auto reader = CsvReader::Open(path, Int32Pairs(16), &pool);
  ASSERT_TRUE(reader.ok()) << reader.status();
  for (int i = 0; i < 2000; ++i) {
    absl::Span<const uint8_t> row;
    bool end = true;
    ASSERT_TRUE((*reader)->Next(&row, &end).ok());
    ASSERT_FALSE(end) << "row " << i;
    ASSERT_THAT(ToInts(row), ElementsAre(i, 2 * i));
  }
  absl::Span<const uint8_t> row;
  bool end = false;
  ASSERT_TRUE((*reader)->Next(&row, &end).ok());
  EXPECT_TRUE(end);
  EXPECT_EQ((*reader)->rows_read(), 2000);
}

TEST(CsvReaderTest, BadRowInALaterBlockNamesFileAndFileLine) {
  std::string text = PairRows(300);  // 300 rows + 42 blank lines.
  text += "7,oops\n1,2\n";           // Line 343.
  const std::string path = WriteFile(TempDir("line") + "/bad.csv", text);
  ThreadPool pool(2);
  auto reader = CsvReader::Open(path, Int32Pairs(50), &pool);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<int32_t> firsts;
  const absl::Status status = ReadFirstValues(reader->get(), 1000, &firsts);
  EXPECT_EQ(firsts, Iota(300));  // Every good row before the bad one.
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path + ":343: field 2: 'oops'"));
}

TEST(CsvReaderTest, ErrorSticksUntilRewind) {
  const std::string path =
      WriteFile(TempDir("sticky") + "/bad.csv", "1,2\n3\n5,6\n");
  ThreadPool pool(1);
  auto reader = CsvReader::Open(path, Int32Pairs(4), &pool);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<int32_t> firsts;
  const absl::Status first = ReadFirstValues(reader->get(), 10, &firsts);
  EXPECT_THAT(first.message(), HasSubstr(":2: expected 2 values, found 1"));
  const absl::Status again = ReadFirstValues(reader->get(), 10, &firsts);
  EXPECT_EQ(again, first);
  ASSERT_TRUE((*reader)->Rewind().ok());
  firsts.clear();
  EXPECT_EQ(ReadFirstValues(reader->get(), 10, &firsts), first);
  EXPECT_THAT(firsts, ElementsAre(1));
}

TEST(CsvReaderTest, RewindMidFileRestartsAtTheFirstRow) {
  const std::string path =
      WriteFile(TempDir("rewind") + "/a.csv", PairRows(1000));
  ThreadPool pool(2);
  auto reader = CsvReader::Open(path, Int32Pairs(64), &pool);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<int32_t> firsts;
  ASSERT_TRUE(ReadFirstValues(reader->get(), 123, &firsts).ok());
  EXPECT_EQ(firsts, Iota(123));
  ASSERT_TRUE((*reader)->Rewind().ok());
  EXPECT_EQ((*reader)->rows_read(), 0);
  firsts.clear();
  ASSERT_TRUE(ReadFirstValues(reader->get(), 5000, &firsts).ok());
  EXPECT_EQ(firsts, Iota(1000));
}

TEST(CsvReaderTest, FolderIsOneStreamInNameOrderWithPerFileLines) {
  const std::string dir = TempDir("folder");
  WriteFile(dir + "/b.csv", "3,0\n4,0");  // No trailing newline.
  WriteFile(dir + "/a.csv",
            "\xEF\xBB\xBF"
            "1,0\n\n2,0\n");
  WriteFile(dir + "/c.csv", "");
  WriteFile(dir + "/d.csv", "5,0\r\n6,0\r\nbad\r\n");
  ThreadPool pool(2);
  auto reader = CsvReader::Open(dir, Int32Pairs(4), &pool);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<int32_t> firsts;
  const absl::Status status = ReadFirstValues(reader->get(), 100, &firsts);
  EXPECT_THAT(firsts, ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_THAT(status.message(), HasSubstr(dir + "/d.csv:3: field 1: 'bad'"));
}

TEST(CsvReaderTest, EmptyFileAndBlankOnlyFileHaveNoRows) {
  const std::string dir = TempDir("empty");
  ThreadPool pool(1);
  for (const std::string contents : {"", "\xEF\xBB\xBF", "\n\r\n  \n"}) {
    const std::string path = WriteFile(dir + "/e.csv", contents);
    auto reader = CsvReader::Open(path, Int32Pairs(2), &pool);
    ASSERT_TRUE(reader.ok()) << reader.status();
    absl::Span<const uint8_t> row;
    bool end = false;
    ASSERT_TRUE((*reader)->Next(&row, &end).ok());
    EXPECT_TRUE(end);
  }
}

TEST(CsvReaderTest, LineLongerThanABlockStaysWhole) {
  CsvReaderOptions options;
  options.format.values_per_row = 500;
  options.block_size_bytes = 8;
  std::string line;
  for (int i = 0; i < 500; ++i) absl::StrAppend(&line, i, ",");
  const std::string path =
      WriteFile(TempDir("long") + "/a.csv", line + "\n" + line + "\n");
  ThreadPool pool(2);
  auto reader = CsvReader::Open(path, options, &pool);
  ASSERT_TRUE(reader.ok()) << reader.status();
  for (int r = 0; r < 2; ++r) {
    absl::Span<const uint8_t> row;
    bool end = true;
    ASSERT_TRUE((*reader)->Next(&row, &end).ok());
    ASSERT_FALSE(end);
    float last;
    std::memcpy(&last, row.data() + 499 * sizeof(float), sizeof(float));
    EXPECT_EQ(last, 499.0f);
  }
}

// The consumer may itself be a pool task (the daemon's Prefetcher): with the
// only worker busy, it must parse queued blocks itself instead of waiting.
TEST(CsvReaderTest, ConsumerParsesQueuedBlocksWhenThePoolIsBusy) {
  const std::string path = WriteFile(TempDir("busy") + "/a.csv", PairRows(500));
  ThreadPool pool(1);
  absl::Notification release_worker;
  pool.Schedule([&release_worker] { release_worker.WaitForNotification(); });
  {
    auto reader = CsvReader::Open(path, Int32Pairs(32), &pool);
    ASSERT_TRUE(reader.ok()) << reader.status();
    std::vector<int32_t> firsts;
    ASSERT_TRUE(ReadFirstValues(reader->get(), 10000, &firsts).ok());
    EXPECT_EQ(firsts, Iota(500));
    ASSERT_TRUE((*reader)->Rewind().ok());
  }  // Destroyed with blocks still queued behind the busy worker.
  release_worker.Notify();  // Their tasks now run and find them cancelled.
}

TEST(CsvReaderTest, MissingPathIsNotFoundNamingIt) {
  ThreadPool pool(1);
  const std::string path = TempDir("missing") + "/none.csv";
  auto reader = CsvReader::Open(path, Int32Pairs(16), &pool);
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(reader.status().message(), HasSubstr(path));
}

// The path was resolved (canonical, under a root) before a directory on it
// was swapped for a symlink leading elsewhere: with hold_files the reader
// refuses it instead of following the new link.
TEST(CsvReaderTest, HeldFilesRefuseAPathThatChangedAfterItWasResolved) {
  ThreadPool pool(1);
  const std::string base =
      std::filesystem::canonical(TempDir("swapped")).string();
  std::filesystem::create_directories(base + "/root/dir");
  std::filesystem::create_directories(base + "/outside");
  WriteFile(base + "/root/dir/a.csv", "1,2\n");
  WriteFile(base + "/outside/a.csv", "66,SECRET\n");
  const std::string resolved = base + "/root/dir/a.csv";
  CsvReaderOptions options = Int32Pairs(16);
  options.name = "dir/a.csv";
  options.hold_files = true;
  ASSERT_TRUE(CsvReader::Open(resolved, options, &pool).ok());
  std::filesystem::rename(base + "/root/dir", base + "/root/old");
  std::filesystem::create_directory_symlink(base + "/outside",
                                            base + "/root/dir");
  auto reader = CsvReader::Open(resolved, options, &pool);
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(reader.status().message(), HasSubstr("dir/a.csv"));
  EXPECT_THAT(reader.status().message(), Not(HasSubstr("SECRET")));
  EXPECT_THAT(reader.status().message(), Not(HasSubstr(base)));
}

TEST(CsvReaderTest, NonPositiveBlocksInFlightIsInvalid) {
  ThreadPool pool(1);
  const std::string path = WriteFile(TempDir("opts") + "/a.csv", "1,2\n");
  CsvReaderOptions options = Int32Pairs(16);
  options.max_blocks_in_flight = 0;
  EXPECT_THAT(CsvReader::Open(path, options, &pool).status().message(),
              HasSubstr("max_blocks_in_flight"));
}

}  // namespace
}  // namespace iterd::csv
