#include "common/recordio/parts.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/recordio/index.h"
#include "common/recordio/reader.h"
#include "common/recordio/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::recordio {
namespace {

using ::testing::HasSubstr;

const std::string kMagicBytes("\x0a\x23\xd7\xce", 4);

std::string ReferencePath(absl::string_view name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"),
                      "/iterd/tests/testdata/mxnet-reference/", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Every record of [begin, end), strictly (parts must split no record).
std::vector<std::string> ReadRange(std::shared_ptr<const ByteSource> source,
                                   PartRange range) {
  ReaderOptions options;
  options.begin_offset = range.begin_offset;
  options.end_offset = range.end_offset;
  RecordReader reader(std::move(source), options);
  std::vector<std::string> records;
  absl::string_view record;
  bool end = false;
  while (true) {
    absl::Status status = reader.Next(&record, &end);
    EXPECT_TRUE(status.ok()) << status;
    if (!status.ok() || end) break;
    records.emplace_back(record);
  }
  return records;
}

std::vector<std::string> ReadEverything(
    std::shared_ptr<const ByteSource> source) {
  return ReadRange(std::move(source), {0, kToEndOfFile});
}

// A file whose records hold aligned magics, so that many nominal boundaries
// fall on cflag 2/3 parts, which must not be taken for record heads.
std::shared_ptr<const ByteSource> GeneratedSourceWithEscapedMagics() {
  std::string contents;
  for (int i = 0; i < 50; ++i) {
    std::string record = absl::StrCat("r", i, std::string(i % 5, '-'));
    record.resize((record.size() + 3) & ~size_t{3}, '.');
    for (int magics = i % 4; magics > 0; --magics) {
      absl::StrAppend(&record, kMagicBytes, "abcd");
    }
    EXPECT_TRUE(EncodeRecord(record, &contents).ok());
  }
  return std::make_shared<StringByteSource>("generated.rec", contents);
}

class PartsCoverTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PartsCoverTest, PartsCoverEveryRecordExactlyOnce) {
  const std::string name = GetParam();
  std::shared_ptr<const ByteSource> source;
  if (name == "generated") {
    source = GeneratedSourceWithEscapedMagics();
  } else {
    auto mapped = OpenMappedByteSource(ReferencePath(name + ".rec"));
    ASSERT_TRUE(mapped.ok()) << mapped.status();
    source = *mapped;
  }
  const std::vector<std::string> all = ReadEverything(source);
  ASSERT_FALSE(all.empty());
  for (int num_parts = 1; num_parts <= static_cast<int>(all.size()) + 3;
       ++num_parts) {
    std::vector<std::string> joined;
    uint64_t previous_end = 0;
    for (int part = 0; part < num_parts; ++part) {
      auto range = ByteRangePart(*source, num_parts, part);
      ASSERT_TRUE(range.ok()) << range.status();
      EXPECT_EQ(range->begin_offset, previous_end);
      previous_end = range->end_offset;
      for (std::string& record : ReadRange(source, *range)) {
        joined.push_back(std::move(record));
      }
    }
    EXPECT_EQ(previous_end, source->size());
    EXPECT_EQ(joined, all) << name << " in " << num_parts << " parts";
  }
}

INSTANTIATE_TEST_SUITE_P(ReferenceAndGenerated, PartsCoverTest,
                         ::testing::Values("a_tutorial_strings",
                                           "b_empty_single", "b_lengths",
                                           "c_magic", "d_large", "e_irheader",
                                           "f_images", "g_png", "generated"));

TEST(ByteRangePartTest, TutorialBoundaryMovesToTheNextRecordHead) {
  auto source = OpenMappedByteSource(ReferencePath("a_tutorial_strings.rec"));
  ASSERT_TRUE(source.ok());
  // T = 80, step = 40; offset 40 is inside record 2 (32..48).
  auto first = ByteRangePart(**source, 2, 0);
  auto second = ByteRangePart(**source, 2, 1);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->begin_offset, 0u);
  EXPECT_EQ(first->end_offset, 48u);
  EXPECT_EQ(second->begin_offset, 48u);
  EXPECT_EQ(second->end_offset, 80u);
}

TEST(ByteRangePartTest, StepIsRoundedUpToFourBytes) {
  auto source = OpenMappedByteSource(ReferencePath("a_tutorial_strings.rec"));
  ASSERT_TRUE(source.ok());
  // step = ceil(80 / 3) = 27 -> 28: boundaries 28 -> 32 and 56 -> 64.
  EXPECT_EQ(ByteRangePart(**source, 3, 0)->end_offset, 32u);
  EXPECT_EQ(ByteRangePart(**source, 3, 1)->end_offset, 64u);
}

TEST(ByteRangePartTest, BadPartNumbersAreInvalidArgument) {
  StringByteSource source("x.rec", "");
  EXPECT_TRUE(absl::IsInvalidArgument(ByteRangePart(source, 0, 0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ByteRangePart(source, 2, 2).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ByteRangePart(source, 2, -1).status()));
}

TEST(ByteRangePartTest, FileNotMultipleOf4IsDataLossNamingIt) {
  auto source = OpenMappedByteSource(ReferencePath("h_truncated.rec"));
  ASSERT_TRUE(source.ok());
  auto range = ByteRangePart(**source, 1, 0);
  ASSERT_FALSE(range.ok());
  EXPECT_TRUE(absl::IsDataLoss(range.status()));
  EXPECT_THAT(range.status().message(), HasSubstr("h_truncated.rec"));
}

TEST(IndexedRecordPartTest, SplitsByRecordCount) {
  // R = 5, 2 parts: n = 3 -> records [0, 3) and [3, 5).
  const std::vector<uint64_t> offsets = {0, 16, 32, 48, 64};
  auto first = IndexedRecordPart(offsets, 80, 2, 0);
  auto second = IndexedRecordPart(offsets, 80, 2, 1);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->first_record, 0u);
  EXPECT_EQ(first->end_record, 3u);
  EXPECT_EQ(first->range.begin_offset, 0u);
  EXPECT_EQ(first->range.end_offset, 48u);
  EXPECT_EQ(second->range.begin_offset, 48u);
  EXPECT_EQ(second->range.end_offset, 80u);
}

TEST(IndexedRecordPartTest, TrailingPartsMayBeEmpty) {
  // R = 5, 4 parts: n = 2 -> [0,2) [2,4) [4,5) and an empty fourth part.
  const std::vector<uint64_t> offsets = {0, 16, 32, 48, 64};
  auto last = IndexedRecordPart(offsets, 80, 4, 3);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->first_record, last->end_record);
  EXPECT_EQ(last->range.begin_offset, last->range.end_offset);
}

TEST(IndexedRecordPartTest, OffsetPastEndOfFileIsDataLoss) {
  EXPECT_TRUE(
      absl::IsDataLoss(IndexedRecordPart({0, 32, 140}, 90, 1, 0).status()));
}

class IndexedPartsCoverTest : public ::testing::TestWithParam<const char*> {};

TEST_P(IndexedPartsCoverTest, IndexedPartsCoverEveryRecordExactlyOnce) {
  const std::string name = GetParam();
  auto source = OpenMappedByteSource(ReferencePath(name + ".rec"));
  ASSERT_TRUE(source.ok());
  const std::vector<uint64_t> offsets =
      DmlcIndexOffsets(ReadFile(ReferencePath(name + ".idx")));
  const std::vector<std::string> all = ReadEverything(*source);
  ASSERT_EQ(offsets.size(), all.size());
  for (int num_parts = 1; num_parts <= static_cast<int>(all.size()) + 3;
       ++num_parts) {
    std::vector<std::string> joined;
    for (int part = 0; part < num_parts; ++part) {
      auto indexed =
          IndexedRecordPart(offsets, (*source)->size(), num_parts, part);
      ASSERT_TRUE(indexed.ok()) << indexed.status();
      std::vector<std::string> records = ReadRange(*source, indexed->range);
      EXPECT_EQ(records.size(), indexed->end_record - indexed->first_record);
      joined.insert(joined.end(), records.begin(), records.end());
    }
    EXPECT_EQ(joined, all) << name << " in " << num_parts << " parts";
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, IndexedPartsCoverTest,
                         ::testing::Values("a_tutorial_strings",
                                           "b_empty_single", "b_lengths",
                                           "c_magic", "d_large", "e_irheader",
                                           "f_images", "g_png"));

}  // namespace
}  // namespace iterd::recordio
