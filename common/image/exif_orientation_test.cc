#include "common/image/exif_orientation.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "common/image/image_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

// An APP1 "Exif" segment whose IFD0 holds one entry: orientation (SHORT).
std::string ExifSegment(int orientation, bool little_endian) {
  auto u16 = [&](int value) {
    return little_endian ? std::string{char(value & 0xFF), char(value >> 8)}
                         : std::string{char(value >> 8), char(value & 0xFF)};
  };
  auto u32 = [&](int value) {
    return little_endian ? u16(value & 0xFFFF) + u16(value >> 16)
                         : u16(value >> 16) + u16(value & 0xFFFF);
  };
  std::string tiff = little_endian ? "II" : "MM";
  tiff += u16(42) + u32(8);               // Header, IFD0 at 8.
  tiff += u16(1);                         // One entry.
  tiff += u16(0x0112) + u16(3) + u32(1);  // Orientation, SHORT, count 1.
  tiff += u16(orientation) + std::string(2, '\0');
  tiff += u32(0);  // No next IFD.
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const int length = static_cast<int>(payload.size()) + 2;
  return std::string{'\xFF', '\xE1', char(length >> 8), char(length & 0xFF)} +
         payload;
}

// `jpeg` with `segment` inserted right after SOI.
std::string WithSegment(const std::string& jpeg, const std::string& segment) {
  return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

cv::Mat OpenCvDecode(const std::string& bytes, int flag) {
  return cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1,
                              const_cast<char*>(bytes.data())),
                      flag);
}

class ExifOrientationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Asymmetric in both axes so every flip/transpose shows.
    cv::Mat image(48, 80, CV_8UC3);
    for (int y = 0; y < image.rows; ++y) {
      for (int x = 0; x < image.cols; ++x) {
        image.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 3, y * 5, (x * y) % 256);
      }
    }
    auto jpeg = EncodeImage(image, ".jpg", 95);
    ASSERT_TRUE(jpeg.ok()) << jpeg.status();
    jpeg_ = *jpeg;
  }
  std::string jpeg_;
};

TEST_F(ExifOrientationTest, PlainJpegIsUpright) {
  EXPECT_EQ(JpegExifOrientation(jpeg_), 1);
  EXPECT_EQ(JpegExifOrientation(""), 1);
  EXPECT_EQ(JpegExifOrientation("not a jpeg"), 1);
}

TEST_F(ExifOrientationTest, ReadsTheTagInBothByteOrders) {
  for (int orientation = 1; orientation <= 8; ++orientation) {
    for (bool little_endian : {true, false}) {
      EXPECT_EQ(JpegExifOrientation(WithSegment(
                    jpeg_, ExifSegment(orientation, little_endian))),
                orientation);
    }
  }
}

TEST_F(ExifOrientationTest, DecodeImageRotatesExactlyAsOpenCv) {
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const std::string jpeg =
        WithSegment(jpeg_, ExifSegment(orientation, orientation % 2 == 0));
    for (int flag : {kDecodeUnchanged, kDecodeGray, kDecodeColor}) {
      auto ours = DecodeImage(jpeg, flag);
      ASSERT_TRUE(ours.ok()) << ours.status();
      const cv::Mat opencv = OpenCvDecode(jpeg, flag);
      ASSERT_EQ(ours->size(), opencv.size())
          << "orientation " << orientation << " flag " << flag;
      // Not vacuous: 5..8 swap width and height unless the flag is -1.
      const bool transposed = orientation >= 5 && flag != kDecodeUnchanged;
      EXPECT_EQ(ours->cols, transposed ? 48 : 80);
      EXPECT_EQ(cv::norm(*ours, opencv, cv::NORM_INF), 0.0)
          << "orientation " << orientation << " flag " << flag;
    }
  }
}

TEST_F(ExifOrientationTest, MalformedSegmentsReadAsUpright) {
  const std::string good = ExifSegment(6, true);
  // Cut inside the IFD entry, with the segment length adjusted to match.
  std::string cut = good.substr(0, 24);
  cut[2] = 0;
  cut[3] = static_cast<char>(cut.size() - 2);
  EXPECT_EQ(JpegExifOrientation(WithSegment(jpeg_, cut)), 1);
  // A segment length running past the end of the data.
  std::string overlong = good;
  overlong[2] = '\x7F';
  EXPECT_EQ(JpegExifOrientation(WithSegment(jpeg_, overlong).substr(0, 40)), 1);
  // An out-of-range orientation value.
  EXPECT_EQ(JpegExifOrientation(WithSegment(jpeg_, ExifSegment(9, true))), 1);
}

TEST(ApplyExifOrientationTest, SixTurnsClockwise) {
  // 2x3 image: orientation 6 means the stored picture must turn 90 degrees
  // clockwise to be upright.
  cv::Mat image = (cv::Mat_<uint8_t>(2, 3) << 1, 2, 3, 4, 5, 6);
  ApplyExifOrientation(6, &image);
  const cv::Mat expected = (cv::Mat_<uint8_t>(3, 2) << 4, 1, 5, 2, 6, 3);
  EXPECT_EQ(cv::norm(image, expected, cv::NORM_INF), 0.0);
}

}  // namespace
}  // namespace iterd::image
