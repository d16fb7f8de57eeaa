#include "server/pipeline/mean_image.h"

#include <cmath>
#include <fstream>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(MeanImageTest, EncodedFileParsesBack) {
  const std::vector<float> values = {1, 2, 3, 4, 5, 6};
  const std::string bytes = EncodeMeanImage(values, 3, 1, 2);
  absl::StatusOr<std::vector<float>> parsed =
      ParseMeanImage(bytes, "m.bin", 3, 1, 2);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(1, 2, 3, 4, 5, 6));
}

TEST(MeanImageTest, HeaderBytesAreMxnetsLayout) {
  const std::string bytes = EncodeMeanImage({0.5f}, 1, 1, 1);
  // list magic, reserved, count, array magic, stype, ndim, 3 dims, ctx,
  // dtype, 1 float, key count, key length, "mean_img".
  EXPECT_EQ(bytes.size(), 8u * 3 + 4 * 3 + 8 * 3 + 4 * 3 + 4 + 8 + 8 + 8);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 0x12);
  EXPECT_EQ(static_cast<uint8_t>(bytes[1]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(bytes[24]), 0xC9);
  EXPECT_EQ(bytes.substr(bytes.size() - 8), "mean_img");
}

TEST(MeanImageTest, WrongShapeNamesBothShapes) {
  const std::string bytes = EncodeMeanImage(std::vector<float>(6), 3, 1, 2);
  absl::StatusOr<std::vector<float>> parsed =
      ParseMeanImage(bytes, "m.bin", 3, 2, 1);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("(3, 1, 2)"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("(3, 2, 1)"));
}

TEST(MeanImageTest, NonFiniteValuesAreAnErrorNamingTheValue) {
  const std::string bytes =
      EncodeMeanImage({1.0f, std::nanf(""), 2.0f}, 3, 1, 1);
  const auto parsed = ParseMeanImage(bytes, "nan.bin", 3, 1, 1);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("nan.bin"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("value 1 of the mean"));
}

TEST(MeanImageTest, TruncatedFileIsAnErrorNamingIt) {
  std::string bytes = EncodeMeanImage(std::vector<float>(6), 3, 1, 2);
  bytes.resize(60);
  absl::StatusOr<std::vector<float>> parsed =
      ParseMeanImage(bytes, "cut.bin", 3, 1, 2);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("cut.bin"));
}

TEST(MeanImageTest, BadMagicIsRejected) {
  std::string bytes = EncodeMeanImage(std::vector<float>(1), 1, 1, 1);
  bytes[0] = 0x13;
  EXPECT_FALSE(ParseMeanImage(bytes, "m", 1, 1, 1).ok());
}

TEST(MeanImageTest, MissingFileIsNotFound) {
  absl::StatusOr<std::vector<float>> loaded =
      LoadMeanImage("/nonexistent/mean.bin", 3, 2, 2);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
}

TEST(MeanImageTest, LoadsAFileFromDisk) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/mean.bin";
  std::ofstream(path, std::ios::binary)
      << EncodeMeanImage({7, 8, 9, 10}, 1, 2, 2);
  absl::StatusOr<std::vector<float>> loaded = LoadMeanImage(path, 1, 2, 2);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(*loaded, ElementsAre(7, 8, 9, 10));
}

}  // namespace
}  // namespace iterd::pipeline
