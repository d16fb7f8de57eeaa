#include "common/image/jpeg_window_decoder.h"

#include <turbojpeg.h>

#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "common/image/jpeg_decoder.h"
#include "common/image/reference_images.h"
#include "common/image/test_jpeg.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

using ::testing::HasSubstr;

// A photo encoded at quality 94 with TurboJPEG's TJSAMP_444 / TJSAMP_420, or
// as gray (TJSAMP_GRAY).
std::string Encode(const cv::Mat& bgr, int subsampling) {
  std::string bytes = testing::EncodeTestJpeg(bgr, subsampling);
  EXPECT_FALSE(bytes.empty());
  return bytes;
}

class JpegWindowDecoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto images = testing::LoadReferenceImages("f_images");
    ASSERT_TRUE(images.ok()) << images.status();
    const std::string& jpeg = (*images)[0].content;
    photo_ = cv::imdecode(cv::Mat(1, static_cast<int>(jpeg.size()), CV_8UC1,
                                  const_cast<char*>(jpeg.data())),
                          cv::IMREAD_COLOR);
    ASSERT_FALSE(photo_.empty());
    cv::resize(photo_, photo_, cv::Size(500, 375), 0, 0, cv::INTER_AREA);
    auto decoder = JpegDecoder::Create();
    ASSERT_TRUE(decoder.ok());
    decoder_ = *std::move(decoder);
  }

  cv::Mat FullDecode(const std::string& jpeg, PixelOrder order, int scale) {
    auto header = decoder_->ReadHeader(jpeg);
    EXPECT_TRUE(header.ok());
    cv::Mat image(JpegDecoder::ScaledDimension(header->height, scale),
                  JpegDecoder::ScaledDimension(header->width, scale),
                  CV_8UC(ChannelCount(order)));
    EXPECT_TRUE(decoder_
                    ->Decode(jpeg, order, scale,
                             absl::MakeSpan(image.data,
                                            image.total() * image.elemSize()),
                             image.step[0])
                    .ok());
    return image;
  }

  cv::Mat photo_;
  std::unique_ptr<JpegDecoder> decoder_;
};

TEST_F(JpegWindowDecoderTest, WindowMatchesFullDecodeAwayFromStripEdges) {
  const cv::Rect window(77, 41, 230, 221);
  for (const int sampling : {TJSAMP_444, TJSAMP_420, TJSAMP_GRAY}) {
    {
      const std::string jpeg = Encode(photo_, sampling);
      const PixelOrder order =
          sampling == TJSAMP_GRAY ? PixelOrder::kGray : PixelOrder::kBgr;
      for (const int scale : {1, 2}) {
        const cv::Rect scaled(window.x / scale, window.y / scale,
                              window.width / scale, window.height / scale);
        auto decoded = DecodeJpegWindow(jpeg, order, scale, scaled);
        ASSERT_TRUE(decoded.ok()) << decoded.status();
        ASSERT_EQ(decoded->size(), scaled.size());
        const cv::Mat full = FullDecode(jpeg, order, scale)(scaled);
        // libjpeg's fancy upsampling treats a cropped strip's edge as the
        // image's: only the outermost column may differ.
        const cv::Rect inner(2, 0, scaled.width - 4, scaled.height);
        EXPECT_EQ(cv::norm((*decoded)(inner), full(inner), cv::NORM_INF), 0)
            << "sampling " << sampling << " scale " << scale;
        EXPECT_LT(cv::norm(*decoded, full, cv::NORM_L1) / full.total() /
                      full.channels(),
                  0.5);
      }
    }
  }
}

TEST_F(JpegWindowDecoderTest, RgbOrderIsBgrSwapped) {
  const std::string jpeg = Encode(photo_, TJSAMP_444);
  const cv::Rect window(100, 100, 64, 64);
  auto bgr = DecodeJpegWindow(jpeg, PixelOrder::kBgr, 1, window);
  auto rgb = DecodeJpegWindow(jpeg, PixelOrder::kRgb, 1, window);
  ASSERT_TRUE(bgr.ok() && rgb.ok());
  cv::Mat swapped;
  cv::cvtColor(*rgb, swapped, cv::COLOR_RGB2BGR);
  EXPECT_EQ(cv::norm(*bgr, swapped, cv::NORM_INF), 0);
}

TEST_F(JpegWindowDecoderTest, WindowOutsideTheImageIsInvalidArgument) {
  const std::string jpeg = Encode(photo_, TJSAMP_444);
  auto decoded =
      DecodeJpegWindow(jpeg, PixelOrder::kBgr, 2, cv::Rect(200, 0, 60, 10));
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.status().message(), HasSubstr("outside"));
  EXPECT_FALSE(
      DecodeJpegWindow(jpeg, PixelOrder::kBgr, 3, cv::Rect(0, 0, 8, 8)).ok());
}

TEST_F(JpegWindowDecoderTest,
       HeaderOverThePixelLimitIsRefusedAndLeavesNoState) {
  const std::string jpeg = Encode(photo_, TJSAMP_420);
  const cv::Rect window(0, 0, 16, 16);
  const uint64_t pixels = static_cast<uint64_t>(photo_.cols) * photo_.rows;
  auto refused =
      DecodeJpegWindow(jpeg, PixelOrder::kBgr, 1, window, pixels - 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("more than the limit"));
  // Past libjpeg's own 65500 limit: its error path, then a good decode.
  EXPECT_FALSE(DecodeJpegWindow(testing::WithJpegFrameSize(jpeg, 65535, 65535),
                                PixelOrder::kBgr, 1, window, uint64_t{1} << 40)
                   .ok());
  auto decoded = DecodeJpegWindow(jpeg, PixelOrder::kBgr, 1, window, pixels);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->size(), window.size());
}

TEST_F(JpegWindowDecoderTest, TruncatedAndGarbledBytesNeverCrash) {
  const std::string jpeg = Encode(photo_, TJSAMP_420);
  const cv::Rect window(40, 30, 300, 200);
  int errors = 0;
  for (size_t length = 0; length < jpeg.size(); length += 97) {
    if (!DecodeJpegWindow(jpeg.substr(0, length), PixelOrder::kBgr, 1, window)
             .ok()) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);  // At least the header-less prefixes.
  cv::RNG random(7);
  for (int trial = 0; trial < 300; ++trial) {
    std::string garbled = jpeg;
    for (int k = 0; k < 8; ++k) {
      garbled[random.uniform(0, static_cast<int>(garbled.size()))] =
          static_cast<char>(random.uniform(0, 256));
    }
    // Either a decoded window or an error naming libjpeg's reason.
    auto decoded = DecodeJpegWindow(garbled, PixelOrder::kBgr, 1, window);
    if (decoded.ok()) {
      EXPECT_EQ(decoded->size(), window.size());
    } else {
      EXPECT_THAT(decoded.status().message(), HasSubstr("JPEG"));
    }
  }
  EXPECT_FALSE(
      DecodeJpegWindow("not a jpeg", PixelOrder::kBgr, 1, window).ok());
}

}  // namespace
}  // namespace iterd::image
