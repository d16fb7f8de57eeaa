#include "common/recordio/irheader.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::recordio {
namespace {

using ::testing::ElementsAre;

std::string Hex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}

TEST(IRHeaderTest, ScalarLabelMatchesTheReferenceBytes) {
  // pack(IRHeader(0, 4, 2574, 0), b"") from the reference, §3.2.
  IRHeader header;
  header.label = 4;
  header.id = 2574;
  EXPECT_EQ(Hex(PackRecord(header, "")),
            "00000000"
            "00008040"
            "0e0a0000"
            "00000000"
            "00000000"
            "00000000");
}

TEST(IRHeaderTest, LabelArraySetsFlagAndPrecedesThePayload) {
  // pack((3, [1.0, 2.0, 3.0], 2, 0), b"data"), §3.2.
  IRHeader header;
  header.flag = 99;  // Overwritten, as MXNet does.
  header.label = 7;  // Written as 0 when there is an array.
  header.id = 2;
  header.labels = {1.0f, 2.0f, 3.0f};
  EXPECT_EQ(Hex(PackRecord(header, "data")),
            "03000000"
            "00000000"
            "0200000000000000"
            "0000000000000000"
            "0000803f"
            "00000040"
            "00004040"
            "64617461");
}

TEST(IRHeaderTest, UnpackRoundTripsAndViewsThePayload) {
  IRHeader header;
  header.id = 0xFFFFFFFFFFFFFFFFull;
  header.id2 = 5;
  header.labels = {0.1f};
  const std::string record = PackRecord(header, "jpeg bytes");
  absl::string_view payload;
  auto unpacked = UnpackRecord(record, &payload);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_EQ(unpacked->flag, 1u);
  EXPECT_EQ(unpacked->label, 0.0f);
  EXPECT_EQ(unpacked->id, 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(unpacked->id2, 5u);
  EXPECT_THAT(unpacked->labels, ElementsAre(0.1f));
  EXPECT_EQ(payload, "jpeg bytes");
  EXPECT_EQ(payload.data(), record.data() + 28);  // A view, not a copy.
}

TEST(IRHeaderTest, ShortRecordIsDataLoss) {
  absl::string_view payload;
  auto unpacked = UnpackRecord(std::string(23, '\0'), &payload);
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(unpacked.status().message(), ::testing::HasSubstr("23 bytes"));
}

TEST(IRHeaderTest, FlagBeyondTheRecordIsDataLoss) {
  std::string record(24, '\0');
  record[0] = 10;  // 10 labels = 40 bytes, but none follow.
  absl::string_view payload;
  auto unpacked = UnpackRecord(record, &payload);
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(unpacked.status().message(), ::testing::HasSubstr("flag 10"));
}

}  // namespace
}  // namespace iterd::recordio
