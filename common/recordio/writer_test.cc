#include "common/recordio/writer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/recordio/reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::recordio {
namespace {

using ::testing::HasSubstr;

const std::string kMagicBytes("\x0a\x23\xd7\xce", 4);

std::string Hex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}

std::string Encoded(absl::string_view record, uint64_t* escapes = nullptr) {
  std::string out;
  EXPECT_TRUE(EncodeRecord(record, &out, escapes).ok());
  return out;
}

std::string TempPath(absl::string_view name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string ReferencePath(absl::string_view name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"),
                      "/iterd/tests/testdata/mxnet-reference/", name);
}

// The worked examples of docs/mxnet-semantics.md §1.4.
TEST(EncodeRecordTest, EightByteRecordMatchesKnownBytes) {
  EXPECT_EQ(Hex(Encoded("record_0")), "0a23d7ce080000007265636f72645f30");
}

TEST(EncodeRecordTest, ShortRecordIsZeroPadded) {
  EXPECT_EQ(Hex(Encoded("hello")), "0a23d7ce0500000068656c6c6f000000");
}

TEST(EncodeRecordTest, EmptyRecordIsAHeaderAlone) {
  EXPECT_EQ(Hex(Encoded("")), "0a23d7ce00000000");
}

TEST(EncodeRecordTest, AlignedMagicSplitsIntoStartAndEndParts) {
  uint64_t escapes = 0;
  EXPECT_EQ(Hex(Encoded(absl::StrCat("abcd", kMagicBytes, "xyz"), &escapes)),
            "0a23d7ce0400002061626364"
            "0a23d7ce0300006078797a00");
  EXPECT_EQ(escapes, 1u);
}

TEST(EncodeRecordTest, MagicAloneIsTwoEmptyParts) {
  EXPECT_EQ(Hex(Encoded(kMagicBytes)), "0a23d7ce000000200a23d7ce00000060");
}

TEST(EncodeRecordTest, TwoMagicsGiveStartMiddleAndEndParts) {
  uint64_t escapes = 0;
  EXPECT_EQ(Hex(Encoded(absl::StrCat(kMagicBytes, kMagicBytes, "x"), &escapes)),
            "0a23d7ce00000020"
            "0a23d7ce00000040"
            "0a23d7ce0100006078000000");
  EXPECT_EQ(escapes, 2u);
}

TEST(EncodeRecordTest, UnalignedMagicIsNotSplit) {
  EXPECT_EQ(Hex(Encoded(absl::StrCat("ab", kMagicBytes, "cd"))),
            "0a23d7ce0800000061620a23d7ce6364");
}

TEST(EncodeRecordTest, MagicInTheLastPartialWordIsNotSplit) {
  // Offset 4 of a 7-byte payload: the word does not lie wholly inside.
  const std::string record = absl::StrCat("abcd", kMagicBytes.substr(0, 3));
  EXPECT_EQ(Hex(Encoded(record)), "0a23d7ce07000000616263640a23d700");
}

TEST(EncodeRecordTest, RecordOf2To29BytesIsRejectedBeforeSplitting) {
  // 2^29 bytes of untouched anonymous memory: no RAM is spent on it, and the
  // size check must come before any byte is looked at.
  const size_t size = size_t{1} << 29;
  void* memory = ::mmap(nullptr, size, PROT_READ,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  std::string out = "kept";
  absl::Status status =
      EncodeRecord(absl::string_view(static_cast<char*>(memory), size), &out);
  ::munmap(memory, size);
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(status.message(), HasSubstr("536870912"));
  EXPECT_EQ(out, "kept");
}

TEST(RecordWriterTest, TellAfterEachTutorialRecordMatchesReference) {
  const std::string path = TempPath("tutorial.rec");
  auto writer = RecordWriter::Create(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  std::vector<uint64_t> tells;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*writer)->Write(absl::StrCat("record_", i)).ok());
    tells.push_back((*writer)->Tell());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_THAT(tells, ::testing::ElementsAre(16, 32, 48, 64, 80));
  EXPECT_EQ(ReadFile(path), ReadFile(ReferencePath("a_tutorial_strings.rec")));
}

TEST(RecordWriterTest, OversizedRecordIsRejectedAndWriterStaysUsable) {
  const std::string path = TempPath("oversized.rec");
  auto writer = RecordWriter::Create(path);
  ASSERT_TRUE(writer.ok());
  const size_t size = size_t{1} << 29;
  void* memory = ::mmap(nullptr, size, PROT_READ,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  absl::Status status =
      (*writer)->Write(absl::string_view(static_cast<char*>(memory), size));
  ::munmap(memory, size);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_EQ((*writer)->Tell(), 0u);
  EXPECT_TRUE((*writer)->Write("ok").ok());
  EXPECT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(ReadFile(path).size(), 12u);
}

TEST(RecordWriterTest, RecordsLargerThanTheBufferAreWrittenWhole) {
  const std::string path = TempPath("large.rec");
  auto writer = RecordWriter::Create(path);
  ASSERT_TRUE(writer.ok());
  std::vector<std::string> records;
  for (int i = 0; i < 5; ++i) {
    records.push_back(std::string((3 << 20) + i, static_cast<char>('a' + i)));
    ASSERT_TRUE((*writer)->Write(records.back()).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  auto reader = RecordReader::Open(path);
  ASSERT_TRUE(reader.ok());
  for (const std::string& expected : records) {
    absl::string_view record;
    bool end = false;
    ASSERT_TRUE((*reader)->Next(&record, &end).ok());
    ASSERT_FALSE(end);
    EXPECT_TRUE(record == expected);
  }
}

TEST(RecordWriterTest, WriteAfterCloseFails) {
  auto writer = RecordWriter::Create(TempPath("closed.rec"));
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_TRUE((*writer)->Close().ok());  // Idempotent.
  EXPECT_TRUE(absl::IsFailedPrecondition((*writer)->Write("x")));
}

TEST(RecordWriterTest, CreateInMissingDirectoryNamesThePath) {
  const std::string path = TempPath("no/such/dir/x.rec");
  auto writer = RecordWriter::Create(path);
  ASSERT_FALSE(writer.ok());
  EXPECT_THAT(writer.status().message(), HasSubstr(path));
}

TEST(IndexedRecordWriterTest, WritesKeyTabOffsetLines) {
  const std::string rec = TempPath("tutorial_indexed.rec");
  const std::string idx = TempPath("tutorial_indexed.idx");
  auto writer = IndexedRecordWriter::Create(rec, idx);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        (*writer)->Write(absl::StrCat(i), absl::StrCat("record_", i)).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(ReadFile(idx), "0\t0\n1\t16\n2\t32\n3\t48\n4\t64\n");
  EXPECT_EQ(ReadFile(idx), ReadFile(ReferencePath("a_tutorial_strings.idx")));
}

TEST(IndexedRecordWriterTest, KeyWithTabIsRejected) {
  auto writer =
      IndexedRecordWriter::Create(TempPath("tab.rec"), TempPath("tab.idx"));
  ASSERT_TRUE(writer.ok());
  EXPECT_TRUE(absl::IsInvalidArgument((*writer)->Write("a\tb", "x")));
  EXPECT_TRUE((*writer)->Write("ab", "x").ok());
}

// Rebuilds every intact reference file from the payloads our reader returns
// (their digests are checked against MANIFEST.json in
// recordio_reference_test) and the keys of its .idx.
class ReferenceRebuildTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ReferenceRebuildTest, RecAndIdxAreByteForByteIdentical) {
  const std::string name = GetParam();
  const std::string reference_rec = ReadFile(ReferencePath(name + ".rec"));
  const std::string reference_idx = ReadFile(ReferencePath(name + ".idx"));
  auto reader = RecordReader::Open(ReferencePath(name + ".rec"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto writer = IndexedRecordWriter::Create(TempPath(name + ".rec"),
                                            TempPath(name + ".idx"));
  ASSERT_TRUE(writer.ok()) << writer.status();
  std::vector<absl::string_view> lines =
      absl::StrSplit(reference_idx, '\n', absl::SkipEmpty());
  for (absl::string_view line : lines) {
    absl::string_view record;
    bool end = false;
    ASSERT_TRUE((*reader)->Next(&record, &end).ok());
    ASSERT_FALSE(end);
    const std::vector<absl::string_view> columns = absl::StrSplit(line, '\t');
    ASSERT_EQ(columns.size(), 2u);
    ASSERT_TRUE((*writer)->Write(columns[0], record).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(ReadFile(TempPath(name + ".rec")), reference_rec);
  EXPECT_EQ(ReadFile(TempPath(name + ".idx")), reference_idx);
}

INSTANTIATE_TEST_SUITE_P(EveryIntactFile, ReferenceRebuildTest,
                         ::testing::Values("a_tutorial_strings",
                                           "b_empty_single", "b_lengths",
                                           "c_magic", "d_large", "e_irheader",
                                           "f_images", "g_png"));

TEST(ReferenceRebuildTest, MagicEscapesMatchReferenceExceptCounter) {
  auto reader = RecordReader::Open(ReferencePath("c_magic.rec"));
  ASSERT_TRUE(reader.ok());
  auto writer = RecordWriter::Create(TempPath("c_magic_count.rec"));
  ASSERT_TRUE(writer.ok());
  absl::string_view record;
  bool end = false;
  while ((*reader)->Next(&record, &end).ok() && !end) {
    ASSERT_TRUE((*writer)->Write(record).ok());
  }
  EXPECT_EQ((*writer)->magic_escapes(), 15u);  // MANIFEST except_counter.
}

}  // namespace
}  // namespace iterd::recordio
