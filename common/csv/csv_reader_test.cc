#include "common/csv/csv_reader.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/concurrency/thread_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::csv {

// Failed expectations show positions field by field (found by ADL, hence
// outside the unnamed namespace).
void PrintTo(const CsvPosition& position, std::ostream* os) {
  *os << "{rows " << position.rows << ", file " << position.file
      << ", byte_offset " << position.byte_offset << ", line " << position.line
      << "}";
}

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

// Checkpoints: Tell() and Seek().

// What a reader hands out from some point on: every row's bytes, then the
// end (OK) or the error that stops it.
struct Rest {
  std::vector<std::string> rows;
  absl::Status status;
  int64_t rows_read = 0;  // rows_read() after the last Next().
};

Rest ReadRest(CsvReader* reader) {
  Rest rest;
  while (true) {
    absl::Span<const uint8_t> row;
    bool end = false;
    rest.status = reader->Next(&row, &end);
    if (!rest.status.ok() || end) break;
    rest.rows.emplace_back(reinterpret_cast<const char*>(row.data()),
                           row.size());
  }
  rest.rows_read = reader->rows_read();
  return rest;
}

// Reads `count` rows, which must be there.
void SkipRows(CsvReader* reader, int count) {
  for (int i = 0; i < count; ++i) {
    absl::Span<const uint8_t> row;
    bool end = true;
    ASSERT_TRUE(reader->Next(&row, &end).ok()) << "row " << i;
    ASSERT_FALSE(end) << "row " << i;
  }
}

// Names the first row that differs rather than printing hundreds of them.
void ExpectSameRows(const std::vector<std::string>& actual,
                    const std::vector<std::string>& expected) {
  EXPECT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size() && i < expected.size(); ++i) {
    if (actual[i] != expected[i]) {
      ADD_FAILURE() << "rows differ from row " << i << " on";
      return;
    }
  }
}

void ExpectSameRest(const Rest& actual, const Rest& expected) {
  ExpectSameRows(actual.rows, expected.rows);
  EXPECT_EQ(actual.status, expected.status);
  EXPECT_EQ(actual.rows_read, expected.rows_read);
}

std::unique_ptr<CsvReader> OpenOrDie(const std::string& path,
                                     const CsvReaderOptions& options,
                                     ThreadPool* pool) {
  auto reader = CsvReader::Open(path, options, pool);
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? *std::move(reader) : nullptr;
}

// The positions Tell() must give after 0, 1, ... rows of `files` (contents,
// in stream order), written down from the rule in csv_reader.h: after a row,
// the start of the next line (blank lines are not skipped), or {file + 1, 0,
// 0} when the row ends its file. Lines holding anything but spaces, tabs and
// '\r' are rows; with a bad line, only the positions up to it are meaningful.
std::vector<CsvPosition> ExpectedPositions(
    const std::vector<std::string>& files) {
  std::vector<CsvPosition> positions(1);  // {0, 0, 0, 0}.
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string& text = files[f];
    size_t begin = 0;
    for (int64_t line = 0; begin < text.size(); ++line) {
      size_t end = text.find('\n', begin);
      end = end == std::string::npos ? text.size() : end + 1;
      const bool row =
          text.find_first_not_of(" \t\r\n\xEF\xBB\xBF", begin) < end;
      begin = end;
      if (!row) continue;
      CsvPosition after;
      after.rows = static_cast<int64_t>(positions.size());
      if (end == text.size()) {
        after.file = static_cast<int64_t>(f + 1);
      } else {
        after.file = static_cast<int64_t>(f);
        after.byte_offset = end;
        after.line = line + 1;
      }
      positions.push_back(after);
    }
  }
  return positions;
}

// For every cut k: reader A reads k rows and tells its position; a fresh
// reader B seeks there and must hand out exactly what A hands out next (rows,
// rows_read, final error), as must one long-lived reader seeking from
// wherever the previous cut left it. Also checks Tell() against `expected`
// (ExpectedPositions), called after every row on one reader and once per
// reader on the others, and the end position.
void ExpectEveryCutResumes(const std::string& path,
                           const CsvReaderOptions& options,
                           const std::vector<CsvPosition>& expected,
                           int64_t num_files, ThreadPool* pool) {
  std::unique_ptr<CsvReader> whole = OpenOrDie(path, options, pool);
  ASSERT_NE(whole, nullptr);
  const Rest all = ReadRest(whole.get());
  const int total = static_cast<int>(all.rows.size());
  ASSERT_GT(total, 0);
  ASSERT_GE(expected.size(), static_cast<size_t>(total) + 1);

  // Tell() after every row: the per-block cursor moves forward only.
  std::unique_ptr<CsvReader> stepper = OpenOrDie(path, options, pool);
  ASSERT_NE(stepper, nullptr);
  for (int k = 0; k <= total; ++k) {
    EXPECT_EQ(stepper->Tell(), expected[k]) << "after " << k << " rows";
    EXPECT_EQ(stepper->Tell(), expected[k]) << "again, after " << k;
    if (k < total) SkipRows(stepper.get(), 1);
  }
  // Past the last row: an error leaves Tell() after that row (Seek() there
  // meets the error again); the end of the data gives the end position.
  CsvPosition end;
  end.rows = total;
  end.file = num_files;
  const CsvPosition after_all = all.status.ok() ? end : expected[total];
  ExpectSameRest(ReadRest(stepper.get()), Rest{{}, all.status, total});
  EXPECT_EQ(stepper->Tell(), after_all);

  std::unique_ptr<CsvReader> reused = OpenOrDie(path, options, pool);
  ASSERT_NE(reused, nullptr);
  for (int k = 0; k <= total; ++k) {
    SCOPED_TRACE(absl::StrCat("cut after ", k, " rows"));
    std::unique_ptr<CsvReader> a = OpenOrDie(path, options, pool);
    ASSERT_NE(a, nullptr);
    SkipRows(a.get(), k);
    const CsvPosition position = a->Tell();
    EXPECT_EQ(position, expected[k]);
    EXPECT_EQ(position.rows, k);
    const Rest rest = ReadRest(a.get());
    ExpectSameRows(rest.rows, std::vector<std::string>(all.rows.begin() + k,
                                                       all.rows.end()));
    EXPECT_EQ(rest.status, all.status);
    EXPECT_EQ(rest.rows_read, all.rows_read);

    std::unique_ptr<CsvReader> b = OpenOrDie(path, options, pool);
    ASSERT_NE(b, nullptr);
    ASSERT_TRUE(b->Seek(position).ok());
    EXPECT_EQ(b->Tell(), position);
    EXPECT_EQ(b->rows_read(), k);
    ExpectSameRest(ReadRest(b.get()), rest);
    EXPECT_EQ(b->Tell(), after_all);

    ASSERT_TRUE(reused->Seek(position).ok());
    EXPECT_EQ(reused->Tell(), position);
    ExpectSameRest(ReadRest(reused.get()), rest);
    EXPECT_EQ(reused->Tell(), after_all);
  }
}

CsvReaderOptions Named(CsvReaderOptions options, const std::string& name) {
  options.name = name;
  return options;
}

TEST(CsvReaderSeekTest, EveryCutOfOneFileResumes) {
  // Blank lines every 7 rows, spaces, CRLF, trailing blank lines.
  const std::string text =
      "\n  \n" + PairRows(60) + "5, 6\r\n\t\n7 ,8\r\n\n \n";
  const std::string path = WriteFile(TempDir("seek_one") + "/a.csv", text);
  ThreadPool pool(2);
  for (size_t block_size : std::vector<size_t>{1, 7, 16, size_t{1} << 20}) {
    SCOPED_TRACE(absl::StrCat("block_size_bytes ", block_size));
    ExpectEveryCutResumes(path, Int32Pairs(block_size),
                          ExpectedPositions({text}), 1, &pool);
  }
}

TEST(CsvReaderSeekTest, EveryCutOfAFolderResumes) {
  const std::string dir = TempDir("seek_folder");
  const std::vector<std::string> texts = {
      "\xEF\xBB\xBF" + PairRows(20),  // a: BOM.
      "\n\n",                         // b: blank lines only.
      "",                             // c: empty.
      PairRows(15) + "\n 9,9",        // d: no newline at the end.
      "\xEF\xBB\xBF",                 // e: just a BOM.
      "1,1\r\n\r\n2,2\r\n",           // f: CRLF.
      "3,3\n\n\n",                    // g: blank lines after the last row.
  };
  for (size_t i = 0; i < texts.size(); ++i) {
    WriteFile(dir + "/" + std::string(1, static_cast<char>('a' + i)) + ".csv",
              texts[i]);
  }
  ThreadPool pool(2);
  for (size_t block_size : std::vector<size_t>{1, 5, 16, size_t{1} << 20}) {
    SCOPED_TRACE(absl::StrCat("block_size_bytes ", block_size));
    ExpectEveryCutResumes(dir, Int32Pairs(block_size), ExpectedPositions(texts),
                          static_cast<int64_t>(texts.size()), &pool);
  }
}

// Past a Seek(), a bad line is still reported with its own file and line.
TEST(CsvReaderSeekTest, EveryCutBeforeABadLineReportsItsTrueLine) {
  const std::string dir = TempDir("seek_bad");
  const std::vector<std::string> texts = {
      PairRows(30),
      PairRows(42) + "7,oops\n1,2\n",  // Line 49, after a blank line.
  };
  WriteFile(dir + "/a.csv", texts[0]);
  WriteFile(dir + "/b.csv", texts[1]);
  ThreadPool pool(2);
  for (size_t block_size : std::vector<size_t>{1, 16, size_t{1} << 20}) {
    SCOPED_TRACE(absl::StrCat("block_size_bytes ", block_size));
    const CsvReaderOptions options = Named(Int32Pairs(block_size), "in/dir");
    ExpectEveryCutResumes(dir, options, ExpectedPositions(texts), 2, &pool);
    std::unique_ptr<CsvReader> reader = OpenOrDie(dir, options, &pool);
    ASSERT_NE(reader, nullptr);
    SkipRows(reader.get(), 67);
    const CsvPosition position = reader->Tell();
    ASSERT_EQ(position.file, 1);
    std::unique_ptr<CsvReader> resumed = OpenOrDie(dir, options, &pool);
    ASSERT_NE(resumed, nullptr);
    ASSERT_TRUE(resumed->Seek(position).ok());
    const Rest rest = ReadRest(resumed.get());
    EXPECT_EQ(rest.rows.size(), 5u);
    EXPECT_EQ(rest.rows_read, 72);
    EXPECT_EQ(rest.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(rest.status.message(), HasSubstr("in/dir/b.csv:49: field 2"));
    EXPECT_THAT(rest.status.message(), Not(HasSubstr(dir)));
  }
}

TEST(CsvReaderSeekTest, SeekToTheEndAndBackAfterRewindOrAnError) {
  const std::string path =
      WriteFile(TempDir("seek_end") + "/a.csv", PairRows(100) + "bad\n");
  ThreadPool pool(2);
  std::unique_ptr<CsvReader> reader = OpenOrDie(path, Int32Pairs(16), &pool);
  ASSERT_NE(reader, nullptr);
  SkipRows(reader.get(), 40);
  const CsvPosition at_40 = reader->Tell();
  EXPECT_EQ(ReadRest(reader.get()).status.code(),
            absl::StatusCode::kInvalidArgument);

  // The end: nothing more, and the error is gone.
  CsvPosition end;
  end.rows = 100;
  end.file = 1;
  ASSERT_TRUE(reader->Seek(end).ok());
  EXPECT_EQ(reader->Tell(), end);
  Rest rest = ReadRest(reader.get());
  EXPECT_TRUE(rest.status.ok()) << rest.status;
  EXPECT_TRUE(rest.rows.empty());
  EXPECT_EQ(rest.rows_read, 100);
  EXPECT_EQ(reader->Tell(), end);

  // Back into the middle from the end, then after a Rewind part-way.
  ASSERT_TRUE(reader->Seek(at_40).ok());
  rest = ReadRest(reader.get());
  EXPECT_EQ(rest.rows.size(), 60u);
  EXPECT_EQ(rest.rows_read, 100);
  EXPECT_THAT(rest.status.message(), HasSubstr(":115: field 1: 'bad'"));
  ASSERT_TRUE(reader->Rewind().ok());
  EXPECT_EQ(reader->Tell(), CsvPosition());
  SkipRows(reader.get(), 7);
  ASSERT_TRUE(reader->Seek(at_40).ok());
  std::vector<int32_t> firsts;
  ASSERT_TRUE(ReadFirstValues(reader.get(), 3, &firsts).ok());
  EXPECT_THAT(firsts, ElementsAre(40, 41, 42));
  EXPECT_EQ(reader->rows_read(), 43);
}

// Positions come from clients: every field is checked, the message names the
// input as options.name does (never the path), and a refused Seek() leaves
// the reader where it was.
TEST(CsvReaderSeekTest, HostilePositionsAreRefusedAndLeaveTheReaderAlone) {
  const std::string dir = TempDir("seek_hostile");
  const std::string a =
      "\xEF\xBB\xBF"
      "1,1\n2,2\n3,3\n4,4\n";  // 19 bytes.
  WriteFile(dir + "/a.csv", a);
  WriteFile(dir + "/b.csv", "5,5\n6,6");
  ThreadPool pool(2);
  std::unique_ptr<CsvReader> reader =
      OpenOrDie(dir, Named(Int32Pairs(4), "in/dir"), &pool);
  ASSERT_NE(reader, nullptr);
  SkipRows(reader.get(), 2);
  const CsvPosition before = reader->Tell();

  const auto at = [](int64_t rows, int64_t file, uint64_t byte_offset,
                     int64_t line) {
    CsvPosition position;
    position.rows = rows;
    position.file = file;
    position.byte_offset = byte_offset;
    position.line = line;
    return position;
  };
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  const struct {
    CsvPosition position;
    std::string message;
  } cases[] = {
      {at(-1, 0, 0, 0), "rows is -1"},
      {at(kMin, 0, 0, 0), "rows is -9223372036854775808"},
      {at(0, 0, 0, -1), "line is -1"},
      {at(0, -1, 0, 0), "file is -1, must be in [0, 2]"},
      {at(0, kMin, 0, 0), "file is -9223372036854775808"},
      {at(0, 3, 0, 0), "file is 3, must be in [0, 2]"},
      {at(0, kMax, 0, 0), "file is 9223372036854775807"},
      {at(0, 2, 1, 0), "byte_offset is 1 at the end of the data"},
      {at(0, 0, 20, 0), "byte_offset is 20, past the end of in/dir/a.csv"},
      {at(0, 1, std::numeric_limits<uint64_t>::max(), 0),
       "byte_offset is 18446744073709551615, past the end of in/dir/b.csv"},
      {at(0, 0, 1, 0), "byte_offset 1 of in/dir/a.csv is not at the start"},
      {at(0, 0, 3, 0), "byte_offset 3 of in/dir/a.csv is not at the start"},
      {at(0, 0, 9, 0), "byte_offset 9 of in/dir/a.csv is not at the start"},
      {at(0, 1, 7, 0), "byte_offset 7 of in/dir/b.csv is not at the start"},
      {at(0, 0, 7, 8), "line is 8, more than byte_offset 7 allows"},
      {at(0, 0, 7, kMax), "line is 9223372036854775807"},
      {at(0, 2, 0, 1), "line is 1, more than byte_offset 0 allows"},
      {at(8, 0, 7, 1), "rows is 8, more than the 7 bytes before"},
      {at(27, 1, 4, 1), "rows is 27, more than the 23 bytes before"},
      {at(kMax, 2, 0, 0), "rows is 9223372036854775807"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    const absl::Status status = reader->Seek(c.position);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(status.message(), HasSubstr("in/dir: cannot seek: "));
    EXPECT_THAT(status.message(), HasSubstr(c.message));
    EXPECT_THAT(status.message(), Not(HasSubstr(dir)));
    EXPECT_EQ(reader->Tell(), before);
  }
  std::vector<int32_t> firsts;
  ASSERT_TRUE(ReadFirstValues(reader.get(), 1, &firsts).ok());
  EXPECT_THAT(firsts, ElementsAre(3));

  // The bounds themselves are fine: the end of a file with a newline, the
  // end of the data, the most rows and lines that bytes allow.
  ASSERT_TRUE(reader->Seek(at(19, 0, 19, 19)).ok());
  firsts.clear();
  ASSERT_TRUE(ReadFirstValues(reader.get(), 10, &firsts).ok());
  EXPECT_THAT(firsts, ElementsAre(5, 6));
  EXPECT_EQ(reader->rows_read(), 21);
  ASSERT_TRUE(reader->Seek(at(26, 2, 0, 0)).ok());
  EXPECT_EQ(ReadRest(reader.get()).rows_read, 26);
  ASSERT_TRUE(reader->Rewind().ok());
  firsts.clear();
  ASSERT_TRUE(ReadFirstValues(reader.get(), 10, &firsts).ok());
  EXPECT_THAT(firsts, ElementsAre(1, 2, 3, 4, 5, 6));
}

// The bad line opens a block, and the block before it ends with blank lines
// after its last row: Tell() is still right after that row.
TEST(CsvReaderSeekTest, TellAfterAnErrorIsRightAfterTheLastRow) {
  const std::string text = "1,1\n\n\nbad\n";
  const std::string path = WriteFile(TempDir("seek_error") + "/a.csv", text);
  ThreadPool pool(1);
  // 6 bytes: the first block is "1,1\n\n\n", the second "bad\n".
  std::unique_ptr<CsvReader> reader = OpenOrDie(path, Int32Pairs(6), &pool);
  ASSERT_NE(reader, nullptr);
  const Rest rest = ReadRest(reader.get());
  EXPECT_THAT(rest.status.message(), HasSubstr(":4: field 1: 'bad'"));
  CsvPosition after_row;
  after_row.rows = 1;
  after_row.byte_offset = 4;
  after_row.line = 1;
  EXPECT_EQ(reader->Tell(), after_row);
  EXPECT_EQ(reader->Tell(), ExpectedPositions({text})[1]);
  ASSERT_TRUE(reader->Seek(after_row).ok());
  ExpectSameRest(ReadRest(reader.get()), Rest{{}, rest.status, 1});
}

// A row count or line that is wrong but possible cannot be told in O(1): the
// reader counts on from it.
TEST(CsvReaderSeekTest, WrongButPossibleCountsAreCountedFrom) {
  const std::string path =
      WriteFile(TempDir("seek_counts") + "/a.csv", "1,2\n3,4\n\n5,6\nbad\n");
  ThreadPool pool(1);
  std::unique_ptr<CsvReader> reader =
      OpenOrDie(path, Named(Int32Pairs(3), "a.csv"), &pool);
  ASSERT_NE(reader, nullptr);
  CsvPosition position;
  position.rows = 3;
  position.byte_offset = 4;  // Line 1 ("3,4").
  position.line = 4;
  ASSERT_TRUE(reader->Seek(position).ok());
  EXPECT_EQ(reader->Tell(), position);
  const Rest rest = ReadRest(reader.get());
  EXPECT_EQ(rest.rows.size(), 2u);
  EXPECT_EQ(rest.rows_read, 5);
  EXPECT_THAT(rest.status.message(), HasSubstr("a.csv:8: field 1: 'bad'"));
  // A blank line is a line start too; Tell() gives back what Seek() got.
  position.rows = 2;
  position.byte_offset = 8;  // Line 2, blank.
  position.line = 2;
  ASSERT_TRUE(reader->Seek(position).ok());
  EXPECT_EQ(reader->Tell(), position);
  std::vector<int32_t> firsts;
  EXPECT_THAT(ReadFirstValues(reader.get(), 10, &firsts).message(),
              HasSubstr("a.csv:5: field 1: 'bad'"));
  EXPECT_THAT(firsts, ElementsAre(5));
}

}  // namespace
}  // namespace iterd::csv
