#include "common/image/pack_img.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "common/image/image_codec.h"
#include "common/image/reference_images.h"
#include "common/recordio/irheader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

cv::Mat TestImage() {
  cv::Mat image(30, 50, CV_8UC3);
  cv::randu(image, 0, 256);
  cv::GaussianBlur(image, image, cv::Size(5, 5), 0);  // Photo-like.
  return image;
}

TEST(PackImageTest, EqualsPackRecordOfTheEncodedImage) {
  recordio::IRHeader header;
  header.label = 3;
  header.id = 12;
  const cv::Mat image = TestImage();
  auto record = PackImage(header, image, 90, ".jpg");
  auto encoded = EncodeImage(image, ".jpg", 90);
  ASSERT_TRUE(record.ok() && encoded.ok());
  EXPECT_EQ(*record, recordio::PackRecord(header, *encoded));
}

TEST(PackImageTest, DefaultsAreJpegAtQuality95) {
  const cv::Mat image = TestImage();
  auto record = PackImage(recordio::IRHeader(), image);
  auto encoded = EncodeImage(image, ".jpg", 95);
  ASSERT_TRUE(record.ok() && encoded.ok());
  EXPECT_EQ(*record, recordio::PackRecord(recordio::IRHeader(), *encoded));
}

TEST(PackImageTest, PngMultiLabelRecordRoundTripsExactly) {
  recordio::IRHeader header;
  header.id = 77;
  header.id2 = 5;
  header.labels = {1.5f, -2.0f, 3.25f};
  const cv::Mat image = TestImage();
  auto record = PackImage(header, image, 95, ".png");
  ASSERT_TRUE(record.ok()) << record.status();
  cv::Mat decoded;
  auto unpacked = UnpackImage(*record, kDecodeUnchanged, &decoded);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_EQ(unpacked->flag, 3u);
  EXPECT_EQ(unpacked->label, 0.0f);
  EXPECT_EQ(unpacked->id, 77u);
  EXPECT_EQ(unpacked->id2, 5u);
  EXPECT_THAT(unpacked->labels, ElementsAre(1.5f, -2.0f, 3.25f));
  ASSERT_EQ(decoded.type(), image.type());
  EXPECT_EQ(cv::norm(decoded, image, cv::NORM_INF), 0.0);
}

TEST(PackImageTest, JpegRecordRoundTripsWithinJpegLoss) {
  recordio::IRHeader header;
  header.label = 4;
  const cv::Mat image = TestImage();
  auto record = PackImage(header, image, 95, ".jpg");
  ASSERT_TRUE(record.ok());
  cv::Mat gray;
  auto unpacked = UnpackImage(*record, kDecodeGray, &gray);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_EQ(unpacked->label, 4.0f);
  EXPECT_EQ(gray.channels(), 1);
  cv::Mat color;
  ASSERT_TRUE(UnpackImage(*record, kDecodeColor, &color).ok());
  EXPECT_GT(cv::PSNR(color, image), 30.0);
}

TEST(PackImageTest, BadExtensionIsInvalidArgument) {
  auto record = PackImage(recordio::IRHeader(), TestImage(), 95, ".gif");
  EXPECT_EQ(record.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(UnpackImageTest, ReferenceRecordsGiveManifestHeadersAndSizes) {
  for (const char* case_name : {"f_images", "g_png"}) {
    auto images = testing::LoadReferenceImages(case_name);
    ASSERT_TRUE(images.ok()) << images.status();
    for (const auto& reference : *images) {
      cv::Mat image;
      auto header = UnpackImage(reference.record, kDecodeUnchanged, &image);
      ASSERT_TRUE(header.ok()) << reference.note << ": " << header.status();
      if (header->flag == 0) {
        EXPECT_THAT(reference.labels, ElementsAre(header->label));
      } else {
        EXPECT_EQ(header->labels, reference.labels) << reference.note;
      }
      EXPECT_EQ(image.cols, reference.width) << reference.note;
      EXPECT_EQ(image.rows, reference.height) << reference.note;
      EXPECT_EQ(image.channels(), reference.channels) << reference.note;
    }
  }
}

TEST(UnpackImageTest, GrayPngRecordHasTwoLabelsAndOneChannel) {
  auto images = testing::LoadReferenceImages("g_png");
  ASSERT_TRUE(images.ok());
  ASSERT_EQ(images->size(), 2u);
  cv::Mat image;
  auto header = UnpackImage((*images)[1].record, kDecodeUnchanged, &image);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->flag, 2u);
  EXPECT_EQ(header->id, 71u);
  EXPECT_THAT(header->labels, ElementsAre(1.0f, 0.0f));
  EXPECT_EQ(image.channels(), 1);
  EXPECT_EQ(image.size(), cv::Size(384, 303));
}

TEST(UnpackImageTest, RecordShorterThanTheHeaderIsDataLoss) {
  cv::Mat image;
  auto header = UnpackImage("short", kDecodeColor, &image);
  EXPECT_EQ(header.status().code(), absl::StatusCode::kDataLoss);
}

TEST(UnpackImageTest, UndecodablePayloadIsInvalidArgumentAndLeavesImage) {
  const std::string record =
      recordio::PackRecord(recordio::IRHeader(), "not an image");
  cv::Mat image(2, 2, CV_8UC1, cv::Scalar(9));
  auto header = UnpackImage(record, kDecodeColor, &image);
  EXPECT_EQ(header.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(header.status().message(),
              HasSubstr("not a decodable image (12 bytes"));
  EXPECT_EQ(image.at<uint8_t>(0, 0), 9);
}

}  // namespace
}  // namespace iterd::image
