#include "common/image/jpeg_decoder.h"

#include <turbojpeg.h>

#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "common/image/jpeg_encoder.h"
#include "common/image/reference_images.h"
#include "common/image/test_jpeg.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

using ::testing::HasSubstr;

cv::Mat OpenCvDecode(const std::string& bytes, int flag) {
  return cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1,
                              const_cast<char*>(bytes.data())),
                      flag);
}

double MaxAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  return cv::norm(a, b, cv::NORM_INF);
}

class JpegDecoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto images = testing::LoadReferenceImages("f_images");
    ASSERT_TRUE(images.ok()) << images.status();
    images_ = *std::move(images);
    ASSERT_EQ(images_.size(), 20u);
    auto decoder = JpegDecoder::Create();
    ASSERT_TRUE(decoder.ok()) << decoder.status();
    decoder_ = *std::move(decoder);
  }

  // Decodes into a fresh Mat of the (scaled) size, or returns the error.
  absl::StatusOr<cv::Mat> Decode(const std::string& jpeg, PixelOrder order,
                                 int scale = 1) {
    auto header = decoder_->ReadHeader(jpeg);
    if (!header.ok()) return header.status();
    cv::Mat out(JpegDecoder::ScaledDimension(header->height, scale),
                JpegDecoder::ScaledDimension(header->width, scale),
                CV_8UC(ChannelCount(order)));
    absl::Status status = decoder_->Decode(
        jpeg, order, scale,
        absl::MakeSpan(out.data, out.total() * out.elemSize()), out.step[0]);
    if (!status.ok()) return status;
    return out;
  }

  std::vector<testing::ReferenceImage> images_;
  std::unique_ptr<JpegDecoder> decoder_;
};

TEST_F(JpegDecoderTest, ReadHeaderGivesManifestSizeAndOpenCvDefaultLayout) {
  for (const auto& image : images_) {
    auto header = decoder_->ReadHeader(image.content);
    ASSERT_TRUE(header.ok()) << image.note << ": " << header.status();
    EXPECT_EQ(header->width, image.width) << image.note;
    EXPECT_EQ(header->height, image.height) << image.note;
    EXPECT_EQ(header->color_space, JpegColorSpace::kYCbCr) << image.note;
    EXPECT_EQ(header->subsampling, TJSAMP_420) << image.note;
    EXPECT_FALSE(header->IsCmyk());
  }
}

TEST_F(JpegDecoderTest, BgrDecodeEqualsOpenCvImdecode) {
  for (const auto& image : images_) {
    auto ours = Decode(image.content, PixelOrder::kBgr);
    ASSERT_TRUE(ours.ok()) << ours.status();
    const cv::Mat opencv = OpenCvDecode(image.content, cv::IMREAD_COLOR);
    ASSERT_EQ(opencv.size(), ours->size());
    EXPECT_LE(MaxAbsDiff(*ours, opencv), 1.0) << image.note;
  }
}

TEST_F(JpegDecoderTest, RgbDecodeIsBgrWithChannelsSwapped) {
  const std::string& jpeg = images_[0].content;
  auto bgr = Decode(jpeg, PixelOrder::kBgr);
  auto rgb = Decode(jpeg, PixelOrder::kRgb);
  ASSERT_TRUE(bgr.ok() && rgb.ok());
  cv::Mat swapped;
  cv::cvtColor(*bgr, swapped, cv::COLOR_BGR2RGB);
  EXPECT_EQ(MaxAbsDiff(swapped, *rgb), 0.0);
}

TEST_F(JpegDecoderTest, GrayDecodeEqualsOpenCvGrayscale) {
  for (const auto& image : images_) {
    auto ours = Decode(image.content, PixelOrder::kGray);
    ASSERT_TRUE(ours.ok()) << ours.status();
    EXPECT_EQ(ours->channels(), 1);
    const cv::Mat opencv = OpenCvDecode(image.content, cv::IMREAD_GRAYSCALE);
    EXPECT_LE(MaxAbsDiff(*ours, opencv), 1.0) << image.note;
  }
}

TEST_F(JpegDecoderTest, DctScalingDividesTheSizeRoundingUp) {
  const auto& image = images_[2];  // 301x457: odd sizes.
  auto full = Decode(image.content, PixelOrder::kBgr);
  ASSERT_TRUE(full.ok());
  for (int scale : {2, 4, 8}) {
    auto scaled = Decode(image.content, PixelOrder::kBgr, scale);
    ASSERT_TRUE(scaled.ok()) << scale << ": " << scaled.status();
    EXPECT_EQ(scaled->cols, (image.width + scale - 1) / scale);
    EXPECT_EQ(scaled->rows, (image.height + scale - 1) / scale);
    // The downscaled picture is the same picture: compare with an area
    // resize of the full decode (starry_night is all fine texture, so the
    // two filters differ by a few levels per pixel; at 1/8 the partial edge
    // blocks weigh in, hence the looser mean).
    cv::Mat expected;
    cv::resize(*full, expected, scaled->size(), 0, 0, cv::INTER_AREA);
    EXPECT_GT(cv::PSNR(expected, *scaled), 20.0) << "scale 1/" << scale;
    const cv::Scalar full_mean = cv::mean(*full);
    const cv::Scalar scaled_mean = cv::mean(*scaled);
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(full_mean[c], scaled_mean[c], 2.5) << "scale 1/" << scale;
    }
  }
}

TEST_F(JpegDecoderTest, UnsupportedScaleIsInvalidArgument) {
  std::vector<uint8_t> out(1 << 20);
  absl::Status status = decoder_->Decode(images_[0].content, PixelOrder::kBgr,
                                         3, absl::MakeSpan(out), 600 * 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("1/3"));
}

TEST_F(JpegDecoderTest, TooSmallBufferIsInvalidArgumentNotOverflow) {
  const auto& image = images_[0];
  const size_t stride = image.width * 3;
  std::vector<uint8_t> out(stride * image.height - 1);
  absl::Status status = decoder_->Decode(image.content, PixelOrder::kBgr, 1,
                                         absl::MakeSpan(out), stride);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("too small"));
  status = decoder_->Decode(image.content, PixelOrder::kBgr, 1,
                            absl::MakeSpan(out), stride - 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JpegDecoderTest, PaddedRowStrideLeavesPaddingUntouched) {
  const auto& image = images_[1];
  const size_t stride = image.width * 3 + 16;
  std::vector<uint8_t> out(stride * image.height, 0xAB);
  ASSERT_TRUE(decoder_
                  ->Decode(image.content, PixelOrder::kBgr, 1,
                           absl::MakeSpan(out), stride)
                  .ok());
  const cv::Mat padded(image.height, image.width, CV_8UC3, out.data(), stride);
  EXPECT_EQ(MaxAbsDiff(padded, OpenCvDecode(image.content, cv::IMREAD_COLOR)),
            0.0);
  EXPECT_EQ(out[image.width * 3], 0xAB);
  EXPECT_EQ(out[stride - 1], 0xAB);
}

TEST_F(JpegDecoderTest, GarbageHeaderIsInvalidArgumentEvenAfterAGoodOne) {
  // A reused handle keeps the last frame's size; it must not leak through.
  ASSERT_TRUE(decoder_->ReadHeader(images_[0].content).ok());
  auto header =
      decoder_->ReadHeader(std::string("\xFF\xD8\xFF\x00garbage", 11));
  EXPECT_EQ(header.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decoder_->ReadHeader("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(JpegDecoderTest, AFailedHeaderLeavesNoStateForTheNextImage) {
  // 65535x65535 is past libjpeg's 65500 limit: the header call fails inside
  // libjpeg, which used to leave the handle mid-header ("two SOI markers"
  // for every later image on it).
  const std::string& good = images_[0].content;
  const std::string too_big = testing::WithJpegFrameSize(good, 65535, 65535);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(decoder_->ReadHeader(too_big).status().code(),
              absl::StatusCode::kInvalidArgument);
    auto decoded = Decode(good, PixelOrder::kBgr);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(MaxAbsDiff(*decoded, OpenCvDecode(good, cv::IMREAD_COLOR)), 0.0);
  }
}

TEST_F(JpegDecoderTest, AFailedDecodeLeavesNoStateForTheNextImage) {
  const std::string& good = images_[0].content;
  // A header that reads but a scan that is garbage from its first byte.
  std::string broken = good;
  const size_t sos = broken.find("\xFF\xDA");
  ASSERT_NE(sos, std::string::npos);
  for (size_t i = sos + 2; i < broken.size(); ++i) broken[i] = '\xFF';
  EXPECT_FALSE(Decode(broken, PixelOrder::kBgr).ok());
  auto decoded = Decode(good, PixelOrder::kBgr);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(MaxAbsDiff(*decoded, OpenCvDecode(good, cv::IMREAD_COLOR)), 0.0);
}

TEST_F(JpegDecoderTest, TruncatedScanDecodesTheRowsThatArePresent) {
  // libjpeg warns ("premature end of data") and fills the missing rows with
  // grey; OpenCV also returns an image (its missing rows repeat stale data).
  // The rows both decoded agree.
  const std::string& full = images_[0].content;
  const std::string truncated = full.substr(0, full.size() / 2);
  auto ours = Decode(truncated, PixelOrder::kBgr);
  ASSERT_TRUE(ours.ok()) << ours.status();
  const cv::Mat opencv = OpenCvDecode(truncated, cv::IMREAD_COLOR);
  ASSERT_EQ(opencv.size(), ours->size());
  const cv::Range top_quarter(0, ours->rows / 4);
  EXPECT_LE(MaxAbsDiff((*ours)(top_quarter, cv::Range::all()),
                       opencv(top_quarter, cv::Range::all())),
            1.0);
}

TEST_F(JpegDecoderTest, GrayJpegReportsGrayAndDecodesToEqualBgrChannels) {
  cv::Mat gray = OpenCvDecode(images_[0].content, cv::IMREAD_GRAYSCALE);
  auto encoder = JpegEncoder::Create();
  ASSERT_TRUE(encoder.ok());
  auto jpeg = (*encoder)->Encode(absl::MakeConstSpan(gray.data, gray.total()),
                                 gray.cols, gray.rows, gray.step[0], 1, 95);
  ASSERT_TRUE(jpeg.ok()) << jpeg.status();
  auto header = decoder_->ReadHeader(*jpeg);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->color_space, JpegColorSpace::kGray);
  EXPECT_EQ(header->subsampling, TJSAMP_GRAY);
  auto bgr = Decode(*jpeg, PixelOrder::kBgr);
  ASSERT_TRUE(bgr.ok()) << bgr.status();
  std::vector<cv::Mat> channels;
  cv::split(*bgr, channels);
  EXPECT_EQ(MaxAbsDiff(channels[0], channels[1]), 0.0);
  EXPECT_EQ(MaxAbsDiff(channels[0], channels[2]), 0.0);
}

}  // namespace
}  // namespace iterd::image
