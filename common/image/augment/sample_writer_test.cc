#include "common/image/augment/sample_writer.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

SampleWriter MakeWriter(const SampleWriterParams& params) {
  absl::StatusOr<SampleWriter> writer = SampleWriter::Create(params);
  EXPECT_TRUE(writer.ok()) << writer.status();
  return *std::move(writer);
}

template <typename T>
std::vector<T> WriteRow(const SampleWriter& writer, const cv::Mat& image,
                        uint64_t seed = 1) {
  std::vector<T> row(image.total() * image.channels());
  random::Engine rng(seed);
  const absl::Status status =
      writer.Write(image, &rng,
                   absl::MakeSpan(reinterpret_cast<uint8_t*>(row.data()),
                                  row.size() * sizeof(T)));
  EXPECT_TRUE(status.ok()) << status;
  return row;
}

// 2 rows x 3 columns, BGR; pixel (y, x) = (b, g, r) = (10y+x, 100+10y+x,
// 200+10y+x).
cv::Mat SmallBgr() {
  cv::Mat image(2, 3, CV_8UC3);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      const int v = 10 * y + x;
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(v, 100 + v, 200 + v);
    }
  }
  return image;
}

TEST(SampleWriterTest, NormalisationMatchesTheReferenceExample) {
  SampleWriterParams params;
  params.mean[0] = 123.68f;
  params.std[0] = 58.395f;
  cv::Mat pixel(1, 1, CV_8UC3, cv::Scalar(0, 0, 255));  // R = 255.
  const std::vector<float> row = WriteRow<float>(MakeWriter(params), pixel);
  EXPECT_NEAR(row[0], 2.24882f, 1e-5);
}

TEST(SampleWriterTest, Float32IsRgbPlanesWithMeanStdAndScale) {
  SampleWriterParams params;
  params.mean[0] = 1, params.mean[1] = 2, params.mean[2] = 3;
  params.std[0] = 2, params.std[1] = 4, params.std[2] = 8;
  params.scale = 0.5f;
  const cv::Mat image = SmallBgr();
  const std::vector<float> row = WriteRow<float>(MakeWriter(params), image);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 3; ++x) {
        const float pixel = image.at<cv::Vec3b>(y, x)[2 - c];
        EXPECT_FLOAT_EQ(row[c * 6 + y * 3 + x],
                        (pixel - params.mean[c]) * 0.5f / params.std[c]);
      }
    }
  }
}

TEST(SampleWriterTest, MirrorReversesColumns) {
  SampleWriterParams params;
  params.dtype = DType::kUInt8;
  params.mirror = true;
  const std::vector<uint8_t> row =
      WriteRow<uint8_t>(MakeWriter(params), SmallBgr());
  // R plane, first row: columns 2, 1, 0.
  EXPECT_THAT(std::vector<uint8_t>(row.begin(), row.begin() + 3),
              ElementsAre(202, 201, 200));
}

TEST(SampleWriterTest, RandomMirrorFlipsAboutHalfTheTime) {
  SampleWriterParams params;
  params.dtype = DType::kUInt8;
  params.rand_mirror = true;
  const SampleWriter writer = MakeWriter(params);
  const cv::Mat image = SmallBgr();
  int flips = 0;
  for (int seed = 0; seed < 2000; ++seed) {
    flips += WriteRow<uint8_t>(writer, image, seed)[0] == 202;
  }
  EXPECT_GT(flips, 900);
  EXPECT_LT(flips, 1100);
}

TEST(SampleWriterTest, Uint8NhwcAndNchwHoldTheSameRgbValues) {
  SampleWriterParams params;
  params.dtype = DType::kUInt8;
  const std::vector<uint8_t> nchw =
      WriteRow<uint8_t>(MakeWriter(params), SmallBgr());
  params.nhwc = true;
  const std::vector<uint8_t> nhwc =
      WriteRow<uint8_t>(MakeWriter(params), SmallBgr());
  EXPECT_THAT(std::vector<uint8_t>(nhwc.begin(), nhwc.begin() + 6),
              ElementsAre(200, 100, 0, 201, 101, 1));
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 6; ++i) EXPECT_EQ(nchw[c * 6 + i], nhwc[i * 3 + c]);
  }
}

TEST(SampleWriterTest, Int8SubtractsRoundedMeanAndSaturates) {
  SampleWriterParams params;
  params.dtype = DType::kInt8;
  params.mean[0] = 0.5f;    // Rounds to 1.
  params.mean[1] = 200.4f;  // Rounds to 200.
  params.mean[2] = 0;
  params.std[0] = 100;  // Ignored for int8.
  cv::Mat image(1, 2, CV_8UC3);
  image.at<cv::Vec3b>(0, 0) = cv::Vec3b(255, 0, 0);  // B, G, R.
  image.at<cv::Vec3b>(0, 1) = cv::Vec3b(5, 255, 100);
  const std::vector<int8_t> row = WriteRow<int8_t>(MakeWriter(params), image);
  EXPECT_THAT(row, ElementsAre(-1, 99, -128, 55, 127, 5));
}

TEST(SampleWriterTest, GrayUsesMeanRAndStdR) {
  SampleWriterParams params;
  params.channels = 1;
  params.mean[0] = 10, params.mean[1] = 99, params.mean[2] = 99;
  params.std[0] = 2, params.std[1] = 99, params.std[2] = 99;
  cv::Mat image(1, 2, CV_8UC1);
  image.at<uint8_t>(0, 0) = 20;
  image.at<uint8_t>(0, 1) = 30;
  EXPECT_THAT(WriteRow<float>(MakeWriter(params), image), ElementsAre(5, 10));
}

TEST(SampleWriterTest, RgbaKeepsAlphaLastWithMeanA) {
  SampleWriterParams params;
  params.channels = 4;
  params.mean[3] = 1;
  cv::Mat image(1, 1, CV_8UC4, cv::Scalar(1, 2, 3, 4));
  EXPECT_THAT(WriteRow<float>(MakeWriter(params), image),
              ElementsAre(3, 2, 1, 3));
}

TEST(SampleWriterTest, MeanImageIsReadAtTheUnflippedPosition) {
  SampleWriterParams params;
  params.mirror = true;
  params.mean[0] = 1000;  // Overridden by the mean image.
  std::vector<float> mean_image(18);
  for (int i = 0; i < 18; ++i) mean_image[i] = static_cast<float>(i);
  params.mean_image = mean_image.data();
  const cv::Mat image = SmallBgr();
  const std::vector<float> row = WriteRow<float>(MakeWriter(params), image);
  // Output R (0, 0) comes from source column 2: 202 - mean[0][0][2].
  EXPECT_FLOAT_EQ(row[0], 202 - 2);
  // G (1, 2) comes from source column 0: mean index 1*6 + 1*3 + 0.
  EXPECT_FLOAT_EQ(row[6 + 3 + 2], 110 - 9);
}

TEST(SampleWriterTest, RandomContrastAndIlluminationStayInRange) {
  SampleWriterParams params;
  params.channels = 1;
  params.max_random_contrast = 0.5f;
  params.max_random_illumination = 10;
  const SampleWriter writer = MakeWriter(params);
  const cv::Mat image(1, 1, CV_8UC1, cv::Scalar::all(100));
  float lowest = 1e9, highest = -1e9;
  for (int seed = 0; seed < 500; ++seed) {
    const float value = WriteRow<float>(writer, image, seed)[0];
    lowest = std::min(lowest, value), highest = std::max(highest, value);
  }
  EXPECT_GE(lowest, 40);
  EXPECT_LE(highest, 160);
  EXPECT_LT(lowest, 60);
  EXPECT_GT(highest, 140);
}

TEST(SampleWriterTest, SameSeedSameBytes) {
  SampleWriterParams params;
  params.rand_mirror = true;
  params.max_random_contrast = 0.3f;
  const SampleWriter writer = MakeWriter(params);
  EXPECT_EQ(WriteRow<float>(writer, SmallBgr(), 9),
            WriteRow<float>(writer, SmallBgr(), 9));
}

TEST(SampleWriterTest, InvalidParametersNameTheField) {
  SampleWriterParams params;
  params.nhwc = true;
  EXPECT_THAT(SampleWriter::Create(params).status().message(),
              HasSubstr("NHWC"));
  params = SampleWriterParams();
  params.channels = 2;
  EXPECT_THAT(SampleWriter::Create(params).status().message(),
              HasSubstr("data_shape"));
  params = SampleWriterParams();
  params.std[2] = 0;
  EXPECT_THAT(SampleWriter::Create(params).status().message(),
              HasSubstr("std_b"));
  params = SampleWriterParams();
  params.dtype = DType::kFloat64;
  EXPECT_THAT(SampleWriter::Create(params).status().message(),
              HasSubstr("dtype"));
}

TEST(SampleWriterTest, MismatchedImageOrRowIsInvalidArgument) {
  const SampleWriter writer = MakeWriter(SampleWriterParams());
  random::Engine rng(1);
  std::vector<uint8_t> row(18 * 4);
  cv::Mat gray(2, 3, CV_8UC1, cv::Scalar::all(1));
  EXPECT_EQ(writer.Write(gray, &rng, absl::MakeSpan(row)).code(),
            absl::StatusCode::kInvalidArgument);
  row.resize(17 * 4);
  EXPECT_EQ(writer.Write(SmallBgr(), &rng, absl::MakeSpan(row)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace iterd::image
