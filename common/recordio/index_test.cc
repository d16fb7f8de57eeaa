#include "common/recordio/index.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/recordio/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::recordio {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TempPath(absl::string_view name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

TEST(RecordIndexTest, ParsesTutorialIndexInFileOrder) {
  auto index = RecordIndex::Parse("0\t0\n1\t16\n2\t32\n3\t48\n4\t64\n", "t");
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_THAT(index->keys(), ElementsAre("0", "1", "2", "3", "4"));
  EXPECT_EQ(*index->Find("3"), 48u);
  EXPECT_EQ(*index->Find(int64_t{4}), 64u);
  EXPECT_EQ(index->entries()[2].integer_key, 2);
}

TEST(RecordIndexTest, KeysNeedNotBeIntegersOrOrdered) {
  auto index = RecordIndex::Parse("cat\t16\n7\t0\n", "t");
  ASSERT_TRUE(index.ok());
  EXPECT_THAT(index->keys(), ElementsAre("cat", "7"));
  EXPECT_FALSE(index->entries()[0].integer_key.has_value());
  EXPECT_EQ(*index->Find("cat"), 16u);
  EXPECT_THAT(index->SortedOffsets(), ElementsAre(0, 16));
}

TEST(RecordIndexTest, RepeatedKeyMapsToItsLastLineButIsListedTwice) {
  auto index = RecordIndex::Parse("1\t0\n1\t16\n", "t");
  ASSERT_TRUE(index.ok());
  EXPECT_THAT(index->keys(), ElementsAre("1", "1"));
  EXPECT_EQ(*index->Find("1"), 16u);
  EXPECT_EQ(*index->Find(int64_t{1}), 16u);
}

TEST(RecordIndexTest, LinesAreStrippedAsPythonDoes) {
  auto index = RecordIndex::Parse("  5\t12 \r\n6\t20\textra\n", "t");
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(*index->Find("5"), 12u);
  EXPECT_EQ(*index->Find("6"), 20u);
}

TEST(RecordIndexTest, EmptyTextHasNoEntries) {
  auto index = RecordIndex::Parse("", "t");
  ASSERT_TRUE(index.ok());
  EXPECT_TRUE(index->entries().empty());
}

TEST(RecordIndexTest, LineWithoutTabIsAnErrorNamingTheLine) {
  auto index = RecordIndex::Parse("0\t0\n1 16\n", "data.idx");
  ASSERT_FALSE(index.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(index.status()));
  EXPECT_THAT(index.status().message(), HasSubstr("data.idx: line 2"));
}

TEST(RecordIndexTest, NegativeOffsetIsAnErrorNamingTheLine) {
  auto index = RecordIndex::Parse("0\t-4\n", "data.idx");
  ASSERT_FALSE(index.ok());
  EXPECT_THAT(index.status().message(), HasSubstr("data.idx: line 1"));
}

TEST(RecordIndexTest, UnknownKeyIsNotFound) {
  auto index = RecordIndex::Parse("0\t0\n", "data.idx");
  ASSERT_TRUE(index.ok());
  EXPECT_TRUE(absl::IsNotFound(index->Find("9").status()));
  EXPECT_TRUE(absl::IsNotFound(index->Find(int64_t{9}).status()));
}

TEST(RecordIndexTest, LoadOfMissingFileNamesThePath) {
  auto index = RecordIndex::Load("/no/such.idx");
  ASSERT_FALSE(index.ok());
  EXPECT_THAT(index.status().message(), HasSubstr("/no/such.idx"));
}

TEST(DmlcIndexOffsetsTest, StopsAtFirstNonIntegerPairAndSorts) {
  EXPECT_THAT(DmlcIndexOffsets("2 32\n0\t0\n1 16\ncat 48\n3 64\n"),
              ElementsAre(0, 16, 32));
}

TEST(DmlcIndexOffsetsTest, IgnoresAnOddTrailingToken) {
  EXPECT_THAT(DmlcIndexOffsets("0 0 7"), ElementsAre(0));
}

TEST(FormatIndexLineTest, IsKeyTabOffsetNewline) {
  EXPECT_EQ(FormatIndexLine("12", 4096), "12\t4096\n");
}

class IndexedReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rec_ = TempPath("indexed.rec");
    idx_ = TempPath("indexed.idx");
    auto writer = IndexedRecordWriter::Create(rec_, idx_);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write("10", "ten").ok());
    ASSERT_TRUE((*writer)->Write("b", std::string("\x0a\x23\xd7\xce", 4)).ok());
    ASSERT_TRUE((*writer)->Write("3", "three").ok());
    ASSERT_TRUE((*writer)->Close().ok());
  }

  std::string Read(IndexedReader& reader, absl::string_view key) {
    absl::string_view record;
    bool end = false;
    absl::Status status = reader.Read(key, &record, &end);
    if (!status.ok()) return status.ToString();
    return end ? "EOF" : std::string(record);
  }

  std::string rec_;
  std::string idx_;
};

TEST_F(IndexedReaderTest, ReadsEveryKeyInAnyOrder) {
  auto reader = IndexedReader::Open(rec_, idx_);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_THAT((*reader)->keys(), ElementsAre("10", "b", "3"));
  EXPECT_EQ(Read(**reader, "3"), "three");
  EXPECT_EQ(Read(**reader, "b"), std::string("\x0a\x23\xd7\xce", 4));
  EXPECT_EQ(Read(**reader, "10"), "ten");
  absl::string_view record;
  bool end = false;
  ASSERT_TRUE((*reader)->Read(int64_t{3}, &record, &end).ok());
  EXPECT_EQ(record, "three");
  ASSERT_TRUE((*reader)->ReadEntry(0, &record, &end).ok());
  EXPECT_EQ(record, "ten");
  EXPECT_TRUE(absl::IsOutOfRange((*reader)->ReadEntry(3, &record, &end)));
}

TEST_F(IndexedReaderTest, UnknownKeyIsNotFound) {
  auto reader = IndexedReader::Open(rec_, idx_);
  ASSERT_TRUE(reader.ok());
  EXPECT_THAT(Read(**reader, "nope"), HasSubstr("NOT_FOUND"));
}

TEST_F(IndexedReaderTest, OffsetPastEndIsEndOfData) {
  auto index = RecordIndex::Parse("0\t0\n1\t5000\n", "past.idx");
  ASSERT_TRUE(index.ok());
  auto source = OpenMappedByteSource(rec_);
  ASSERT_TRUE(source.ok());
  IndexedReader reader(*source, *std::move(index));
  EXPECT_EQ(Read(reader, "1"), "EOF");
  EXPECT_EQ(Read(reader, "0"), "ten");
}

TEST_F(IndexedReaderTest, DamagedRecordIsDataLossAndOtherKeysStillRead) {
  {
    std::fstream file(rec_, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(12);  // The magic of key "b" (after "ten": 8 + 4 bytes).
    file.put('\x0b');
  }
  auto reader = IndexedReader::Open(rec_, idx_);
  ASSERT_TRUE(reader.ok());
  EXPECT_THAT(Read(**reader, "b"), HasSubstr("DATA_LOSS"));
  EXPECT_EQ(Read(**reader, "3"), "three");
  EXPECT_EQ(Read(**reader, "10"), "ten");
}

}  // namespace
}  // namespace iterd::recordio
