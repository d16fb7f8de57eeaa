#include "common/recordio/reader.h"

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/recordio/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::recordio {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kMagicBytes("\x0a\x23\xd7\xce", 4);
const char kEof[] = "EOF";

// Shaped like LevelDB's db/log_test.cc: records are written into an in-memory
// file, bytes are edited in place, and a reader over a StringByteSource reads
// them back with a Reporter that remembers every skip.
class RecordReaderTest : public ::testing::Test {
 protected:
  struct Report {
    uint64_t offset;
    uint64_t bytes;
    std::string reason;
  };
  class RecordingReporter final : public Reporter {
   public:
    void Corruption(uint64_t offset, uint64_t bytes,
                    const absl::Status& reason) override {
      reports.push_back({offset, bytes, std::string(reason.message())});
    }
    std::vector<Report> reports;
  };

  // Appends a record; returns its offset.
  uint64_t Write(absl::string_view record) {
    const uint64_t offset = contents_.size();
    EXPECT_TRUE(EncodeRecord(record, &contents_).ok());
    return offset;
  }
  void WriteRaw(absl::string_view bytes) {
    contents_.append(bytes.data(), bytes.size());
  }
  void XorByte(size_t offset, char mask) { contents_[offset] ^= mask; }
  void SetLrec(size_t part_offset, uint32_t cflag, uint32_t length) {
    const uint32_t lrec = (cflag << 29) | length;
    for (int i = 0; i < 4; ++i) {
      contents_[part_offset + 4 + i] = static_cast<char>(lrec >> (8 * i));
    }
  }
  void ShrinkSize(size_t bytes) { contents_.resize(contents_.size() - bytes); }

  RecordReader* Reopen(CorruptionPolicy policy = CorruptionPolicy::kStrict,
                       uint64_t begin = 0, uint64_t end = kToEndOfFile) {
    auto source = std::make_shared<StringByteSource>("mem.rec", contents_);
    if (fail_reads_from_ >= 0) source->FailReadsFrom(fail_reads_from_);
    ReaderOptions options;
    options.policy = policy;
    options.reporter = &reporter_;
    options.begin_offset = begin;
    options.end_offset = end;
    reader_ = std::make_unique<RecordReader>(std::move(source), options);
    return reader_.get();
  }

  // The next record, "EOF", or "error: <message>".
  std::string Read() {
    if (reader_ == nullptr) Reopen();
    absl::string_view record;
    bool end = false;
    absl::Status status = reader_->Next(&record, &end);
    if (!status.ok()) return absl::StrCat("error: ", status.ToString());
    if (end) return kEof;
    return std::string(record);
  }
  std::vector<std::string> ReadAll() {
    std::vector<std::string> records;
    for (int i = 0; i < 10000; ++i) {  // Bounded: a hang fails the test.
      std::string record = Read();
      if (record == kEof || absl::StartsWith(record, "error: ")) break;
      records.push_back(record);
    }
    return records;
  }

  std::string contents_;
  int64_t fail_reads_from_ = -1;
  RecordingReporter reporter_;
  std::unique_ptr<RecordReader> reader_;
};

TEST_F(RecordReaderTest, EmptyFileIsEndOfData) {
  EXPECT_EQ(Read(), kEof);
  EXPECT_EQ(Read(), kEof);
}

TEST_F(RecordReaderTest, ReadsBackEveryLengthAndPadding) {
  std::vector<std::string> records;
  for (int length = 0; length <= 9; ++length) {
    records.push_back(std::string(length, static_cast<char>('a' + length)));
    Write(records.back());
  }
  EXPECT_EQ(ReadAll(), records);
  EXPECT_EQ(Read(), kEof);
}

TEST_F(RecordReaderTest, KnownBytesOfSplitRecordDecode) {
  // §1.4: b"abcd" + M + b"xyz" as written by dmlc.
  WriteRaw(
      absl::HexStringToBytes("0a23d7ce0400002061626364"
                             "0a23d7ce0300006078797a00"));
  EXPECT_EQ(Read(), absl::StrCat("abcd", kMagicBytes, "xyz"));
  EXPECT_EQ(Read(), kEof);
}

TEST_F(RecordReaderTest, AlignedMagicInPayloadIsEscaped) {
  const std::vector<std::string> records = {
      kMagicBytes,
      absl::StrCat(kMagicBytes, kMagicBytes, "x"),
      absl::StrCat("abcd", kMagicBytes),
      absl::StrCat("ab", kMagicBytes, "cd"),  // Unaligned: one part.
      absl::StrCat(kMagicBytes, "\x00\x00\x00\x00", kMagicBytes),
  };
  for (const std::string& record : records) Write(record);
  EXPECT_EQ(ReadAll(), records);
}

TEST_F(RecordReaderTest, TellAndRecordOffsetFollowTheRecords) {
  Write("record_0");
  const uint64_t second = Write(absl::StrCat("ab", kMagicBytes, kMagicBytes));
  Reopen();
  EXPECT_EQ(Read(), "record_0");
  EXPECT_EQ(reader_->record_offset(), 0u);
  EXPECT_EQ(reader_->Tell(), 16u);
  Read();
  EXPECT_EQ(reader_->record_offset(), second);
  EXPECT_EQ(reader_->Tell(), contents_.size());
  EXPECT_EQ(reader_->stats().records, 2u);
}

TEST_F(RecordReaderTest, SeekToARecordOffsetReadsThatRecord) {
  Write("zero");
  const uint64_t one = Write("one");
  Write("two");
  Reopen();
  reader_->Seek(one);
  EXPECT_EQ(Read(), "one");
  EXPECT_EQ(Read(), "two");
  reader_->Seek(0);
  EXPECT_EQ(Read(), "zero");
}

TEST_F(RecordReaderTest, SeekAtOrPastEndIsEndOfData) {
  Write("zero");
  Reopen();
  reader_->Seek(contents_.size());
  EXPECT_EQ(Read(), kEof);
  reader_->Seek(1000);
  EXPECT_EQ(Read(), kEof);
}

TEST_F(RecordReaderTest, RangeReturnsOnlyRecordsStartingInside) {
  Write("zero");
  const uint64_t one = Write("one");
  const uint64_t two = Write(absl::StrCat("two", kMagicBytes, "split"));
  Write("three");
  Reopen(CorruptionPolicy::kStrict, one, two + 1);
  EXPECT_THAT(ReadAll(),
              ElementsAre("one", absl::StrCat("two", kMagicBytes, "split")));
}

TEST_F(RecordReaderTest, BadMagicIsDataLossNamingFileAndOffset) {
  Write("zero");
  const uint64_t one = Write("one");
  XorByte(one, 1);
  EXPECT_EQ(Read(), "zero");
  const std::string error = Read();
  EXPECT_THAT(error, HasSubstr("DATA_LOSS"));
  EXPECT_THAT(error, HasSubstr("mem.rec: offset 12: bad magic 0xced7230b"));
}

TEST_F(RecordReaderTest, StrictErrorSticksUntilSeek) {
  Write("zero");
  const uint64_t one = Write("one");
  const uint64_t two = Write("two");
  XorByte(one, 1);
  EXPECT_EQ(Read(), "zero");
  EXPECT_THAT(Read(), HasSubstr("bad magic"));
  EXPECT_THAT(Read(), HasSubstr("bad magic"));
  reader_->Seek(two);
  EXPECT_EQ(Read(), "two");
}

TEST_F(RecordReaderTest, UnknownCFlagIsDataLoss) {
  const uint64_t zero = Write("zero");
  SetLrec(zero, 5, 4);
  EXPECT_THAT(Read(), HasSubstr("offset 0: bad cflag 5"));
}

TEST_F(RecordReaderTest, StrayMiddlePartIsDataLoss) {
  const uint64_t zero = Write("zero");
  SetLrec(zero, 2, 4);
  EXPECT_THAT(Read(), HasSubstr("stray middle part"));
}

TEST_F(RecordReaderTest, StrayEndPartIsDataLoss) {
  const uint64_t zero = Write("zero");
  SetLrec(zero, 3, 4);
  EXPECT_THAT(Read(), HasSubstr("stray end part"));
}

TEST_F(RecordReaderTest, StartPartFollowedByNewRecordIsDataLoss) {
  const uint64_t zero = Write("zero");
  Write("one");
  SetLrec(zero, 1, 4);
  EXPECT_THAT(Read(), HasSubstr("offset 12: record starting at 0 never ends"));
}

TEST_F(RecordReaderTest, StartPartAtEndOfFileIsDataLoss) {
  const uint64_t zero = Write("zero");
  SetLrec(zero, 1, 4);
  EXPECT_THAT(Read(), HasSubstr("record starting at 0 never ends"));
}

TEST_F(RecordReaderTest, LengthPastEndIsDataLoss) {
  const uint64_t zero = Write("zero");
  Write("one");
  SetLrec(zero, 0, 1000);
  EXPECT_THAT(Read(), HasSubstr("offset 0: truncated record"));
}

TEST_F(RecordReaderTest, TruncatedTailIsDataLoss) {
  Write("zero");
  Write(std::string(100, 'x'));
  ShrinkSize(50);
  EXPECT_EQ(Read(), "zero");
  EXPECT_THAT(Read(), HasSubstr("offset 12: truncated record"));
}

TEST_F(RecordReaderTest, TruncatedHeaderIsDataLoss) {
  Write("zero");
  Write("one");
  ShrinkSize(6);  // 6 of the second part's 12 bytes remain: half a header.
  EXPECT_EQ(Read(), "zero");
  EXPECT_THAT(Read(), HasSubstr("trailing 6 bytes"));
}

TEST_F(RecordReaderTest, TrailingGarbageNotMultipleOf4IsDataLoss) {
  Write("zero");
  WriteRaw("ab");
  EXPECT_EQ(Read(), "zero");
  EXPECT_THAT(Read(), HasSubstr("not a multiple of 4"));
}

TEST_F(RecordReaderTest, TrailingZeroWordIsDataLoss) {
  Write("zero");
  WriteRaw(std::string(4, '\0'));
  EXPECT_EQ(Read(), "zero");
  EXPECT_THAT(Read(), HasSubstr("offset 12: trailing 4 bytes"));
}

TEST_F(RecordReaderTest, ReadErrorIsReturnedNotSkipped) {
  Write("zero");
  Write("one");
  fail_reads_from_ = 14;
  Reopen(CorruptionPolicy::kSkip);
  EXPECT_EQ(Read(), "zero");
  EXPECT_THAT(Read(), HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(reporter_.reports, IsEmpty());
}

TEST_F(RecordReaderTest, SkipPolicyResyncsAfterBadMagicAndReports) {
  Write("zero");
  const uint64_t one = Write("one");
  const uint64_t two = Write("two");
  XorByte(one, 1);
  Reopen(CorruptionPolicy::kSkip);
  EXPECT_THAT(ReadAll(), ElementsAre("zero", "two"));
  ASSERT_EQ(reporter_.reports.size(), 1u);
  EXPECT_EQ(reporter_.reports[0].offset, one);
  EXPECT_EQ(reporter_.reports[0].bytes, two - one);
  EXPECT_THAT(reporter_.reports[0].reason, HasSubstr("bad magic"));
  EXPECT_EQ(reader_->stats().corruptions, 1u);
  EXPECT_EQ(reader_->stats().skipped_bytes, two - one);
}

TEST_F(RecordReaderTest, SkipPolicyNeverMergesDamagedSplitRecord) {
  Write("before");
  const uint64_t split =
      Write(absl::StrCat("aaaa", kMagicBytes, "bbbb", kMagicBytes, "cccc"));
  Write("after");
  XorByte(split + 16, 1);  // The magic of the middle part.
  Reopen(CorruptionPolicy::kSkip);
  EXPECT_THAT(ReadAll(), ElementsAre("before", "after"));
  ASSERT_EQ(reporter_.reports.size(), 1u);
  EXPECT_EQ(reporter_.reports[0].offset, split);
}

TEST_F(RecordReaderTest, SkipPolicyKeepsRecordAfterUnendedStart) {
  const uint64_t zero = Write("zero");
  Write("one");
  SetLrec(zero, 1, 4);
  Reopen(CorruptionPolicy::kSkip);
  EXPECT_THAT(ReadAll(), ElementsAre("one"));
  ASSERT_EQ(reporter_.reports.size(), 1u);
  EXPECT_EQ(reporter_.reports[0].bytes, 12u);
}

TEST_F(RecordReaderTest, SkipPolicySkipsStrayEndPart) {
  const uint64_t zero = Write("zero");
  Write("one");
  SetLrec(zero, 3, 4);
  Reopen(CorruptionPolicy::kSkip);
  EXPECT_THAT(ReadAll(), ElementsAre("one"));
}

TEST_F(RecordReaderTest, SkipPolicyResyncsAfterCorruptLength) {
  const uint64_t zero = Write("zero");
  Write("one");
  Write("two");
  SetLrec(zero, 0, 100000);
  Reopen(CorruptionPolicy::kSkip);
  EXPECT_THAT(ReadAll(), ElementsAre("one", "two"));
}

TEST_F(RecordReaderTest, SkipPolicyReportsTruncatedTailThenEnds) {
  Write("zero");
  const uint64_t one = Write(std::string(100, 'x'));
  ShrinkSize(50);
  Reopen(CorruptionPolicy::kSkip);
  EXPECT_EQ(Read(), "zero");
  EXPECT_EQ(Read(), kEof);
  ASSERT_EQ(reporter_.reports.size(), 1u);
  EXPECT_EQ(reporter_.reports[0].offset, one);
  EXPECT_EQ(reporter_.reports[0].bytes, contents_.size() - one);
  EXPECT_THAT(reporter_.reports[0].reason, HasSubstr("truncated record"));
}

TEST_F(RecordReaderTest, SkipPolicyReportsTrailingGarbageThenEnds) {
  Write("zero");
  WriteRaw("garbage");
  Reopen(CorruptionPolicy::kSkip);
  EXPECT_THAT(ReadAll(), ElementsAre("zero"));
  EXPECT_EQ(Read(), kEof);
  EXPECT_EQ(reader_->stats().skipped_bytes, 7u);
}

TEST_F(RecordReaderTest, SkipPolicyStopsResyncAtRangeEnd) {
  const uint64_t zero = Write("zero");
  const uint64_t one = Write("one");
  Write("two");
  XorByte(zero, 1);
  Reopen(CorruptionPolicy::kSkip, 0, one);
  EXPECT_THAT(ReadAll(), IsEmpty());  // "one" belongs to the next part.
}

// Damage to magic words only must never produce a record that was not
// written: the skip reader returns a subsequence of the originals, and ends.
TEST_F(RecordReaderTest, RandomMagicDamageYieldsOnlyOriginalRecords) {
  std::mt19937 random(7);
  std::vector<std::string> written;
  std::vector<uint64_t> magic_offsets;
  for (int i = 0; i < 60; ++i) {
    std::string record = absl::StrCat("record ", i, std::string(i % 9, '.'));
    if (i % 4 == 0) absl::StrAppend(&record, kMagicBytes, i, kMagicBytes);
    const uint64_t offset = Write(record);
    for (uint64_t at = offset; at < contents_.size(); at += 4) {
      if (contents_.compare(at, 4, kMagicBytes) == 0)
        magic_offsets.push_back(at);
    }
    written.push_back(record);
  }
  const std::string pristine = contents_;
  for (int round = 0; round < 200; ++round) {
    contents_ = pristine;
    for (int flips = 1 + round % 5; flips > 0; --flips) {
      XorByte(magic_offsets[random() % magic_offsets.size()] + random() % 4,
              static_cast<char>(1 + random() % 255));
    }
    Reopen(CorruptionPolicy::kSkip);
    const std::vector<std::string> read = ReadAll();
    ASSERT_EQ(Read(), kEof);
    size_t next = 0;
    for (const std::string& record : read) {
      while (next < written.size() && written[next] != record) ++next;
      ASSERT_LT(next, written.size()) << "round " << round << ": " << record;
      ++next;
    }
  }
}

// Any damage at all: the reader ends (no hang) and never crashes.
TEST_F(RecordReaderTest, RandomByteDamageNeverHangsOrCrashes) {
  std::mt19937 random(11);
  for (int i = 0; i < 40; ++i) {
    Write(absl::StrCat(std::string(i * 3, 'r'), kMagicBytes, i));
  }
  const std::string pristine = contents_;
  for (int round = 0; round < 300; ++round) {
    contents_ = pristine;
    for (int flips = 1 + round % 8; flips > 0; --flips) {
      XorByte(random() % contents_.size(),
              static_cast<char>(1 + random() % 255));
    }
    if (round % 3 == 0) ShrinkSize(random() % contents_.size());
    for (CorruptionPolicy policy :
         {CorruptionPolicy::kStrict, CorruptionPolicy::kSkip}) {
      Reopen(policy);
      ReadAll();
      const std::string last = Read();
      EXPECT_TRUE(last == kEof || absl::StartsWith(last, "error: DATA_LOSS"))
          << last;
    }
  }
}

TEST(RecordReaderOpenTest, MissingFileNamesThePath) {
  auto reader = RecordReader::Open("/no/such/file.rec");
  ASSERT_FALSE(reader.ok());
  EXPECT_THAT(reader.status().message(), HasSubstr("/no/such/file.rec"));
}

TEST(FindRecordHeadTest, SkipsContinuationPartsAndUnalignedOffsets) {
  std::string contents;
  ASSERT_TRUE(
      EncodeRecord(absl::StrCat("abcd", kMagicBytes, "efgh"), &contents).ok());
  const uint64_t second = contents.size();
  ASSERT_TRUE(EncodeRecord("x", &contents).ok());
  StringByteSource source("heads.rec", contents);
  EXPECT_EQ(*FindRecordHead(source, 0, kToEndOfFile), 0u);
  // From 1 the search starts at 4 and passes the cflag 3 part at 12.
  EXPECT_EQ(*FindRecordHead(source, 1, kToEndOfFile), second);
  EXPECT_EQ(*FindRecordHead(source, second + 1, kToEndOfFile), contents.size());
  EXPECT_EQ(*FindRecordHead(source, 1, second), second);  // The limit.
}

// A source whose bytes past size() are readable (like the rest of an mmap's
// last page) and hold a cflag 0 lrec word, so a scan that looks past the end
// would see a head there.
class BytesPastEndSource final : public ByteSource {
 public:
  BytesPastEndSource(std::string visible, std::string past_end)
      : size_(visible.size()), bytes_(visible + past_end) {}
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return size_; }
  absl::Status Read(uint64_t offset, size_t length, std::string* /*scratch*/,
                    absl::string_view* result) const override {
    if (offset > size_ || length > size_ - offset) {
      return absl::InternalError("read past the end");
    }
    *result = absl::string_view(bytes_).substr(offset, length);
    return absl::OkStatus();
  }

 private:
  const std::string name_ = "past_end.rec";
  const uint64_t size_;
  const std::string bytes_;
};

// Found by tools/fuzz/recordio_reader_fuzzer (ASan heap-buffer-overflow): a
// magic 6 bytes before the end of a file whose size is not a multiple of 4
// had its lrec word read 2 bytes past the end.
TEST(FindRecordHeadTest, MagicWithoutRoomForItsLrecIsNoHead) {
  const std::string visible = "zzzz" + kMagicBytes + std::string(2, '\0');
  BytesPastEndSource source(visible, std::string(2, '\0'));
  EXPECT_EQ(*FindRecordHead(source, 0, kToEndOfFile), visible.size());
  // A file holding that tail is damaged, not a record (and not a hang).
  ReaderOptions options;
  options.policy = CorruptionPolicy::kSkip;
  RecordReader reader(
      std::make_shared<BytesPastEndSource>(visible, std::string(2, '\0')),
      options);
  absl::string_view record;
  bool end_of_data = false;
  ASSERT_TRUE(reader.Next(&record, &end_of_data).ok());
  EXPECT_TRUE(end_of_data);
  EXPECT_EQ(reader.stats().records, 0u);
  EXPECT_EQ(reader.stats().skipped_bytes, visible.size());
}

}  // namespace
}  // namespace iterd::recordio
