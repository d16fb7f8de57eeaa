// Reads every file of tests/testdata/mxnet-reference (written by MXNet's
// reference implementation) and checks it against MANIFEST.json: every
// record's length and SHA-256, keys, offsets, chunk layout and IRHeader, and
// the reference behaviour on the damaged files.

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/io/coding.h"
#include "common/recordio/index.h"
#include "common/recordio/irheader.h"
#include "common/recordio/parts.h"
#include "common/recordio/reader.h"
#include "common/recordio/recordio_format.h"
#include "common/recordio/testing/sha256.h"
#include "common/recordio/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::recordio {
namespace {

using ::iterd::recordio::testing::Sha256Hex;
using ::nlohmann::json;

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

const json& Manifest() {
  static const json* manifest =
      new json(json::parse(ReadFile(ReferencePath("MANIFEST.json"))));
  return *manifest;
}

const json& Case(absl::string_view name) {
  for (const json& c : Manifest()["cases"]) {
    if (c["name"] == std::string(name)) return c;
  }
  ADD_FAILURE() << "no case " << name;
  static const json* none = new json(json::object());
  return *none;
}

std::string KeyText(const json& key) {
  return key.is_string() ? key.get<std::string>() : key.dump();
}

std::string Float32Hex(float value) {
  uint8_t bytes[4];
  io::EncodeFloat32(bytes, value);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), 4));
}

// The chunks EncodeRecord writes for `record` at `offset`, as the manifest's
// `parts` list describes them.
json PartsOf(absl::string_view record, uint64_t offset) {
  std::string encoded;
  EXPECT_TRUE(EncodeRecord(record, &encoded).ok());
  json parts = json::array();
  for (size_t at = 0; at < encoded.size();) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(encoded.data()) + at;
    const uint32_t lrec = io::DecodeFixed32(bytes + 4);
    parts.push_back({{"offset", offset + at},
                     {"cflag", DecodeCFlag(lrec)},
                     {"len", DecodeLength(lrec)}});
    at += kPartHeaderBytes + PaddedLength(DecodeLength(lrec));
  }
  return parts;
}

void ExpectIRHeader(const json& expected, absl::string_view record) {
  absl::string_view content;
  absl::StatusOr<IRHeader> header = UnpackRecord(record, &content);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->flag, expected["flag"].get<uint32_t>());
  EXPECT_EQ(Float32Hex(header->label), expected["label_f32_hex"]);
  EXPECT_EQ(header->id, expected["id"].get<uint64_t>());
  EXPECT_EQ(header->id2, expected["id2"].get<uint64_t>());
  std::vector<std::string> labels;
  for (float label : header->labels) labels.push_back(Float32Hex(label));
  if (expected.contains("labels_f32_hex")) {
    EXPECT_EQ(json(labels), expected["labels_f32_hex"]);
  } else {
    EXPECT_TRUE(labels.empty());
  }
  EXPECT_EQ(content.size(), expected["content_len"].get<size_t>());
  EXPECT_EQ(record.size() - content.size(),
            expected["content_offset"].get<size_t>());
  EXPECT_EQ(Sha256Hex(content), expected["content_sha256"]);
}

class IntactFileTest : public ::testing::TestWithParam<const char*> {
 protected:
  const json& records() { return Case(GetParam())["records"]; }
  std::string rec_path() { return ReferencePath(Case(GetParam())["rec"]); }
  std::string idx_path() { return ReferencePath(Case(GetParam())["idx"]); }
};

TEST_P(IntactFileTest, FilesMatchManifestDigests) {
  for (const char* extension : {"rec", "idx"}) {
    const std::string name = Case(GetParam())[extension];
    const std::string contents = ReadFile(ReferencePath(name));
    const json& file = Manifest()["files"][name];
    EXPECT_EQ(contents.size(), file["size"].get<size_t>()) << name;
    EXPECT_EQ(Sha256Hex(contents), file["sha256"]) << name;
  }
}

TEST_P(IntactFileTest, SequentialReadReturnsEveryManifestRecord) {
  auto reader = RecordReader::Open(rec_path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::string_view record;
  bool end = false;
  for (const json& expected : records()) {
    SCOPED_TRACE(
        absl::StrCat(GetParam(), " record ", expected["index"].dump()));
    ASSERT_TRUE((*reader)->Next(&record, &end).ok());
    ASSERT_FALSE(end);
    EXPECT_EQ((*reader)->record_offset(), expected["offset"].get<uint64_t>());
    EXPECT_EQ(record.size(), expected["payload_len"].get<size_t>());
    EXPECT_EQ(Sha256Hex(record), expected["payload_sha256"]);
    if (expected.contains("payload_hex")) {
      EXPECT_EQ(absl::BytesToHexString(record), expected["payload_hex"]);
    }
    EXPECT_EQ(PartsOf(record, (*reader)->record_offset()), expected["parts"]);
    if (expected.contains("irheader")) {
      ExpectIRHeader(expected["irheader"], record);
    }
  }
  ASSERT_TRUE((*reader)->Next(&record, &end).ok());
  EXPECT_TRUE(end);
  EXPECT_EQ((*reader)->Tell(),
            Case(GetParam())["writer"]["end_offset"].get<uint64_t>());
}

TEST_P(IntactFileTest, IndexGivesManifestKeysOffsetsAndRecords) {
  auto reader = IndexedReader::Open(rec_path(), idx_path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<std::string> keys;
  for (const json& expected : records())
    keys.push_back(KeyText(expected["key"]));
  EXPECT_EQ((*reader)->keys(), keys);
  // Random access in reverse file order.
  for (auto it = records().rbegin(); it != records().rend(); ++it) {
    const json& expected = *it;
    const std::string key = KeyText(expected["key"]);
    EXPECT_EQ(*(*reader)->index().Find(key),
              expected["offset"].get<uint64_t>());
    absl::string_view record;
    bool end = false;
    ASSERT_TRUE((*reader)->Read(key, &record, &end).ok()) << key;
    ASSERT_FALSE(end);
    EXPECT_EQ(Sha256Hex(record), expected["payload_sha256"]) << key;
  }
}

TEST_P(IntactFileTest, TwoPartsHoldEveryRecordOnceWithAndWithoutIndex) {
  auto source = OpenMappedByteSource(rec_path());
  ASSERT_TRUE(source.ok());
  const std::vector<uint64_t> offsets = DmlcIndexOffsets(ReadFile(idx_path()));
  for (bool indexed : {false, true}) {
    std::vector<std::string> digests;
    for (int part = 0; part < 2; ++part) {
      PartRange range;
      if (indexed) {
        auto p = IndexedRecordPart(offsets, (*source)->size(), 2, part);
        ASSERT_TRUE(p.ok()) << p.status();
        range = p->range;
      } else {
        auto p = ByteRangePart(**source, 2, part);
        ASSERT_TRUE(p.ok()) << p.status();
        range = *p;
      }
      ReaderOptions options;
      options.begin_offset = range.begin_offset;
      options.end_offset = range.end_offset;
      RecordReader reader(*source, options);
      absl::string_view record;
      bool end = false;
      while (reader.Next(&record, &end).ok() && !end) {
        digests.push_back(Sha256Hex(record));
      }
    }
    std::vector<std::string> expected;
    for (const json& r : records()) expected.push_back(r["payload_sha256"]);
    EXPECT_EQ(digests, expected) << (indexed ? "indexed" : "byte range");
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, IntactFileTest,
                         ::testing::Values("a_tutorial_strings",
                                           "b_empty_single", "b_lengths",
                                           "c_magic", "d_large", "e_irheader",
                                           "f_images", "g_png"));

TEST(ReferenceManifestTest, EveryRecFileHasACaseHere) {
  EXPECT_EQ(Manifest()["cases"].size(), 10u);
}

class DamagedFileTest : public ::testing::TestWithParam<const char*> {
 protected:
  const json& written() {
    return Case(GetParam())["records_as_written_before_corruption"];
  }
  const json& behaviour() { return Case(GetParam())["reference_behaviour"]; }
  std::string rec_path() { return ReferencePath(Case(GetParam())["rec"]); }
};

TEST_P(DamagedFileTest, StrictReadReturnsIntactPrefixThenDataLoss) {
  const json& sequential =
      behaviour()["RecordIOReader sequential (== MXRecordIO.read loop)"];
  auto reader = RecordReader::Open(rec_path());
  ASSERT_TRUE(reader.ok());
  absl::string_view record;
  bool end = false;
  for (const json& sha : sequential["returned_sha256"]) {
    ASSERT_TRUE((*reader)->Next(&record, &end).ok());
    ASSERT_FALSE(end);
    EXPECT_EQ(Sha256Hex(record), sha);
  }
  absl::Status status = (*reader)->Next(&record, &end);
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), ::testing::HasSubstr(rec_path()));
  EXPECT_THAT(status.message(), ::testing::HasSubstr("offset 32"));
}

TEST_P(DamagedFileTest, SkipReadReturnsOnlyIntactWrittenRecords) {
  auto reader = RecordReader::Open(
      rec_path(),
      ReaderOptions{CorruptionPolicy::kSkip, nullptr, 0, kToEndOfFile});
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> digests;
  absl::string_view record;
  bool end = false;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*reader)->Next(&record, &end).ok());
    if (end) break;
    digests.push_back(Sha256Hex(record));
  }
  ASSERT_TRUE(end);
  // Every record written before the damage that still lies wholly in the
  // file, except record 1 (the damaged one).
  std::vector<std::string> expected;
  const uint64_t size = ReadFile(rec_path()).size();
  for (const json& r : written()) {
    const uint64_t last_byte = r["offset"].get<uint64_t>() + kPartHeaderBytes +
                               r["payload_len"].get<uint64_t>();
    if (r["index"] != 1 && last_byte <= size) {
      expected.push_back(r["payload_sha256"]);
    }
  }
  EXPECT_EQ(digests, expected);
  EXPECT_EQ((*reader)->stats().corruptions, 1u);
}

TEST_P(DamagedFileTest, IndexedReadsMatchReferenceReadIdx) {
  auto reader =
      IndexedReader::Open(rec_path(), ReferencePath(Case(GetParam())["idx"]));
  ASSERT_TRUE(reader.ok()) << reader.status();
  for (const json& expected :
       behaviour()["RecordIOReader Seek+NextRecord per .idx key (== "
                   "MXIndexedRecordIO.read_idx)"]) {
    const std::string key = KeyText(expected["key"]);
    const std::string result = expected["result"];
    absl::string_view record;
    bool end = false;
    absl::Status status = (*reader)->Read(key, &record, &end);
    if (result == "record") {
      ASSERT_TRUE(status.ok()) << key << ": " << status;
      EXPECT_FALSE(end);
      EXPECT_EQ(Sha256Hex(record), expected["sha256"]) << key;
    } else if (result == "error") {
      EXPECT_TRUE(absl::IsDataLoss(status)) << key << ": " << status;
    } else {
      ASSERT_TRUE(status.ok()) << key << ": " << status;
      EXPECT_TRUE(end) << key << " should be end of stream: " << result;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, DamagedFileTest,
                         ::testing::Values("h_truncated", "h_flipped_magic"));

TEST(DamagedFileTest, TruncatedFileCannotBeSplitLikeDmlc) {
  auto source = OpenMappedByteSource(ReferencePath("h_truncated.rec"));
  ASSERT_TRUE(source.ok());
  EXPECT_TRUE(absl::IsDataLoss(ByteRangePart(**source, 2, 0).status()));
}

}  // namespace
}  // namespace iterd::recordio
