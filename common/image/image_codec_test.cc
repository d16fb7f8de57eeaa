#include "common/image/image_codec.h"

#include <turbojpeg.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/image/reference_images.h"
#include "common/image/test_jpeg.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReferenceImage;

cv::Mat OpenCvDecode(const std::string& bytes, int flag) {
  return cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1,
                              const_cast<char*>(bytes.data())),
                      flag);
}

std::string OpenCvEncode(const cv::Mat& image, const std::string& ext,
                         const std::vector<int>& params) {
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(cv::imencode(ext, image, bytes, params));
  return std::string(bytes.begin(), bytes.end());
}

double MaxAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  return cv::norm(a, b, cv::NORM_INF);
}

// The manifest's pixel convention: the HWC array in RGB(A) order.
cv::Mat ToRgb(const cv::Mat& image) {
  cv::Mat rgb;
  if (image.channels() == 3) {
    cv::cvtColor(image, rgb, cv::COLOR_BGR2RGB);
  } else if (image.channels() == 4) {
    cv::cvtColor(image, rgb, cv::COLOR_BGRA2RGBA);
  } else {
    rgb = image.clone();
  }
  return rgb;
}

std::vector<ReferenceImage> Load(const std::string& case_name) {
  auto images = testing::LoadReferenceImages(case_name);
  EXPECT_TRUE(images.ok()) << images.status();
  return images.ok() ? *images : std::vector<ReferenceImage>();
}

TEST(DecodeImageTest, JpegReferenceImagesHaveManifestSizeAndMean) {
  const auto images = Load("f_images");
  ASSERT_EQ(images.size(), 20u);
  for (const auto& reference : images) {
    auto image = DecodeImage(reference.content, kDecodeUnchanged);
    ASSERT_TRUE(image.ok()) << reference.note << ": " << image.status();
    EXPECT_EQ(image->cols, reference.width) << reference.note;
    EXPECT_EQ(image->rows, reference.height) << reference.note;
    EXPECT_EQ(image->channels(), reference.channels) << reference.note;
    EXPECT_EQ(image->depth(), CV_8U);
    const cv::Scalar mean = cv::mean(ToRgb(*image));
    for (int c = 0; c < reference.channels; ++c) {
      EXPECT_NEAR(mean[c], reference.pixels_rgb_mean[c], 1.0)
          << reference.note << " channel " << c;
    }
  }
}

TEST(DecodeImageTest, JpegDecodeEqualsOpenCvForEveryFlag) {
  for (const auto& reference : Load("f_images")) {
    for (int flag : {kDecodeUnchanged, kDecodeGray, kDecodeColor}) {
      auto ours = DecodeImage(reference.content, flag);
      ASSERT_TRUE(ours.ok()) << ours.status();
      const cv::Mat opencv = OpenCvDecode(reference.content, flag);
      ASSERT_EQ(ours->size(), opencv.size()) << reference.note;
      ASSERT_EQ(ours->type(), opencv.type()) << reference.note;
      EXPECT_LE(MaxAbsDiff(*ours, opencv), 1.0)
          << reference.note << " flag " << flag;
    }
  }
}

TEST(DecodeImageTest, PngReferencePixelsMatchManifestExactly) {
  const auto images = Load("g_png");
  ASSERT_EQ(images.size(), 2u);
  for (const auto& reference : images) {
    auto image = DecodeImage(reference.content, kDecodeUnchanged);
    ASSERT_TRUE(image.ok()) << image.status();
    EXPECT_EQ(image->cols, reference.width);
    EXPECT_EQ(image->rows, reference.height);
    EXPECT_EQ(image->channels(), reference.channels);
    const cv::Mat rgb = ToRgb(*image);
    ASSERT_TRUE(rgb.isContinuous());
    EXPECT_EQ(testing::Sha256Hex(
                  absl::string_view(reinterpret_cast<const char*>(rgb.data),
                                    rgb.total() * rgb.elemSize())),
              reference.pixels_rgb_sha256)
        << reference.note;
  }
}

TEST(DecodeImageTest, GrayPngStaysGrayUnchangedAndBecomesBgrForColor) {
  const auto images = Load("g_png");
  ASSERT_EQ(images.size(), 2u);
  const std::string& gray_png = images[1].content;  // coins, 1 channel.
  auto unchanged = DecodeImage(gray_png, kDecodeUnchanged);
  auto color = DecodeImage(gray_png, kDecodeColor);
  ASSERT_TRUE(unchanged.ok() && color.ok());
  EXPECT_EQ(unchanged->channels(), 1);
  EXPECT_EQ(color->channels(), 3);
  cv::Mat as_gray;
  cv::cvtColor(*color, as_gray, cv::COLOR_BGR2GRAY);
  EXPECT_EQ(MaxAbsDiff(as_gray, *unchanged), 0.0);
  auto colour_as_gray = DecodeImage(images[0].content, kDecodeGray);
  ASSERT_TRUE(colour_as_gray.ok());
  EXPECT_EQ(colour_as_gray->channels(), 1);
}

TEST(DecodeImageTest, GarbageBytesNameTheSizeAndFirstBytes) {
  auto image = DecodeImage(std::string("\x01\x02\x03\xAB\xCD", 5), 1);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(),
              HasSubstr("not a decodable image (5 bytes, starts with "
                        "01 02 03 AB CD)"));
  image = DecodeImage(std::string(100, 'x'), 1);
  EXPECT_THAT(
      image.status().message(),
      HasSubstr("(100 bytes, starts with 78 78 78 78 78 78 78 78 ...)"));
}

TEST(DecodeImageTest, EmptyBytesAreNotDecodable) {
  auto image = DecodeImage("", kDecodeUnchanged);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(),
              HasSubstr("not a decodable image (0 bytes)"));
}

TEST(DecodeImageTest, BrokenJpegHeaderIsNotDecodable) {
  const auto images = Load("f_images");
  ASSERT_FALSE(images.empty());
  // SOI and the start of the real header, cut before the frame header.
  auto image = DecodeImage(images[0].content.substr(0, 30), kDecodeColor);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(),
              HasSubstr("(30 bytes, starts with FF D8 FF E0"));
}

TEST(DecodeImageTest, HugeClaimedJpegSizeIsRefusedBeforeAllocating) {
  const auto images = Load("f_images");
  ASSERT_FALSE(images.empty());
  std::string jpeg = images[0].content;
  const size_t sof = jpeg.find("\xFF\xC0");  // Baseline frame header.
  ASSERT_NE(sof, std::string::npos);
  jpeg.replace(sof + 5, 4, "\xFF\xDC\xFF\xDC");  // 65500 x 65500.
  auto image = DecodeImage(jpeg, kDecodeColor);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(), HasSubstr("65500x65500"));
}

TEST(DecodeImageTest, DecompressionBombsAreRefusedFromTheHeader) {
  const cv::Mat small(8, 8, CV_8UC3, cv::Scalar(10, 20, 30));
  // 16 KB-class files declaring 1 G and 400 M pixels: refused with the
  // declared size and the limit, before any decoder allocates.
  const std::string jpeg = testing::WithJpegFrameSize(
      testing::EncodeTestJpeg(small, TJSAMP_420), 32768, 32768);
  auto image = DecodeImage(jpeg, kDecodeColor);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(),
              HasSubstr("declares 32768x32768 = 1073741824 pixels, more than "
                        "the limit of 89478485"));
  const std::string png = testing::PngWithDeclaredSize(small, 20000, 20000);
  image = DecodeImage(png, kDecodeUnchanged);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(),
              HasSubstr("declares 20000x20000 = 400000000 pixels"));
  EXPECT_THAT(image.status().message(), HasSubstr("limits.max_image_pixels"));
}

TEST(DecodeImageTest, ExtraneousBytesBetweenSegmentsAreSkippedAsLibjpegDoes) {
  const auto images = Load("f_images");
  ASSERT_FALSE(images.empty());
  // Three stray bytes after the APP0 segment: libjpeg warns and decodes.
  const std::string& good = images[0].content;
  const size_t app0_end = 4 + ((static_cast<uint8_t>(good[4]) << 8) |
                               static_cast<uint8_t>(good[5]));
  std::string stray = good;
  stray.insert(app0_end, "\x01\x02\x03");
  auto image = DecodeImage(stray, kDecodeColor);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(MaxAbsDiff(*image, OpenCvDecode(good, 1)), 0.0);
  // The size check reads past them too.
  std::string bomb = testing::WithJpegFrameSize(good, 30000, 30000);
  bomb.insert(app0_end, "\x01\x02\x03");
  image = DecodeImage(bomb, kDecodeColor);
  EXPECT_THAT(image.status().message(), HasSubstr("declares 30000x30000"));
}

TEST(DecodeImageTest, MaxPixelsIsInclusive) {
  const cv::Mat image(10, 30, CV_8UC3, cv::Scalar(1, 2, 3));
  for (const std::string& bytes :
       {testing::EncodeTestJpeg(image, TJSAMP_444),
        testing::PngWithDeclaredSize(image, 30, 10)}) {
    EXPECT_TRUE(DecodeImage(bytes, kDecodeColor, 300).ok());
    EXPECT_EQ(DecodeImage(bytes, kDecodeColor, 299).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(DecodeImageTest, AGoodJpegDecodesAfterAnUnreadableHugeOne) {
  // 65535x65535 passes a generous limit, then fails inside libjpeg (past
  // its 65500): the thread's decoder must not keep that state.
  const auto images = Load("f_images");
  ASSERT_FALSE(images.empty());
  const std::string bad =
      testing::WithJpegFrameSize(images[0].content, 65535, 65535);
  for (int round = 0; round < 3; ++round) {
    EXPECT_FALSE(DecodeImage(bad, kDecodeColor, uint64_t{1} << 40).ok());
    auto good = DecodeImage(images[0].content, kDecodeColor);
    ASSERT_TRUE(good.ok()) << good.status();
    EXPECT_EQ(MaxAbsDiff(*good, OpenCvDecode(images[0].content, 1)), 0.0);
  }
}

TEST(DecodeImageTest, OpenCvAssertionTextNeverReachesTheMessage) {
  // A BMP 2^21 pixels wide: within our limit, past OpenCV's width cap, whose
  // CV_Assert throws.
  std::vector<uint8_t> bmp;
  ASSERT_TRUE(cv::imencode(".bmp", cv::Mat(1, 4, CV_8UC3), bmp));
  const uint32_t width = 1u << 21;
  for (int k = 0; k < 4; ++k) bmp[18 + k] = (width >> (8 * k)) & 0xFF;
  auto image = DecodeImage(std::string(bmp.begin(), bmp.end()), kDecodeColor);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(), HasSubstr("not a decodable image"));
  EXPECT_THAT(image.status().message(), Not(HasSubstr("OpenCV")));
  EXPECT_THAT(image.status().message(), Not(HasSubstr("Assert")));
}

TEST(DecodeImageTest, UnknownFormatsAreRefusedAsUnsizable) {
  auto image = DecodeImage(std::string("GIF89a\x01\x00\x01\x00", 10), 1);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(), HasSubstr("unknown image format"));
}

TEST(ReadDeclaredSizeTest, ReadsEveryFormatOpenCvWrites) {
  const cv::Mat image(37, 53, CV_8UC3, cv::Scalar(5, 6, 7));
  for (const char* ext : {".jpg", ".png", ".bmp", ".webp", ".tiff", ".ppm"}) {
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(cv::imencode(ext, image, bytes)) << ext;
    const auto size = ReadDeclaredSize(absl::string_view(
        reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    ASSERT_TRUE(size.has_value()) << ext;
    EXPECT_EQ(size->width, 53u) << ext;
    EXPECT_EQ(size->height, 37u) << ext;
    // And every prefix is either unreadable or the same size: no overread.
    for (size_t cut = 0; cut < std::min<size_t>(bytes.size(), 200); ++cut) {
      const auto prefix = ReadDeclaredSize(
          absl::string_view(reinterpret_cast<const char*>(bytes.data()), cut));
      if (prefix.has_value()) {
        EXPECT_EQ(prefix->width, 53u) << ext << cut;
      }
    }
  }
}

TEST(DecodeImageTest, FlagOutsideMinusOneToOneIsInvalidArgument) {
  auto image = DecodeImage("irrelevant", 2);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(), HasSubstr("got 2"));
}

TEST(DecodeImageTest, CmykJpegDecodesThroughOpenCv) {
  // TurboJPEG writes CMYK input as a YCCK JPEG, which it cannot turn into
  // BGR; DecodeImage must hand it to OpenCV.
  cv::Mat cmyk(40, 60, CV_8UC4);
  cv::randu(cmyk, 0, 256);
  tjhandle handle = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long jpeg_size = 0;  // NOLINT(runtime/int)
  ASSERT_EQ(tjCompress2(handle, cmyk.data, cmyk.cols, 0, cmyk.rows, TJPF_CMYK,
                        &jpeg, &jpeg_size, TJSAMP_444, 90, 0),
            0);
  const std::string bytes(reinterpret_cast<char*>(jpeg), jpeg_size);
  tjFree(jpeg);
  tjDestroy(handle);
  for (int flag : {kDecodeUnchanged, kDecodeColor, kDecodeGray}) {
    auto ours = DecodeImage(bytes, flag);
    ASSERT_TRUE(ours.ok()) << ours.status();
    const cv::Mat opencv = OpenCvDecode(bytes, flag);
    ASSERT_EQ(ours->type(), opencv.type());
    EXPECT_EQ(MaxAbsDiff(*ours, opencv), 0.0);
  }
}

TEST(DecodeImageTest, ConcurrentDecodesGiveTheSameImages) {
  const auto images = Load("f_images");
  std::vector<cv::Mat> expected;
  for (const auto& reference : images) {
    expected.push_back(OpenCvDecode(reference.content, cv::IMREAD_COLOR));
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < images.size(); ++i) {
          auto image = DecodeImage(images[i].content, kDecodeColor);
          if (!image.ok() || MaxAbsDiff(*image, expected[i]) > 1.0) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_THAT(mismatches, ::testing::Each(0));
}

class EncodeImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto images = Load("f_images");
    ASSERT_FALSE(images.empty());
    bgr_ = OpenCvDecode(images[0].content, cv::IMREAD_COLOR);
    ASSERT_FALSE(bgr_.empty());
  }
  cv::Mat bgr_;
};

TEST_F(EncodeImageTest, JpegAtQuality95RoundTripsAbove35Db) {
  auto jpeg = EncodeImage(bgr_, ".jpg", 95);
  ASSERT_TRUE(jpeg.ok()) << jpeg.status();
  auto decoded = DecodeImage(*jpeg, kDecodeColor);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_GT(cv::PSNR(bgr_, *decoded), 35.0);
}

TEST_F(EncodeImageTest, JpegBytesEqualOpenCvImencode) {
  // Same libjpeg settings as cv::imencode (islow DCT, 4:2:0, JFIF), so
  // im2rec re-encodes exactly as MXNet does.
  cv::Mat gray;
  cv::cvtColor(bgr_, gray, cv::COLOR_BGR2GRAY);
  for (int quality : {50, 90, 95, 100}) {
    for (const cv::Mat* image : {&bgr_, &gray}) {
      auto ours = EncodeImage(*image, ".JPEG", quality);
      ASSERT_TRUE(ours.ok()) << ours.status();
      EXPECT_EQ(*ours, OpenCvEncode(*image, ".jpg",
                                    {cv::IMWRITE_JPEG_QUALITY, quality}))
          << "quality " << quality << " channels " << image->channels();
    }
  }
}

TEST_F(EncodeImageTest, BgraJpegDropsAlpha) {
  cv::Mat bgra;
  cv::cvtColor(bgr_, bgra, cv::COLOR_BGR2BGRA);
  auto with_alpha = EncodeImage(bgra, ".jpg", 90);
  auto without = EncodeImage(bgr_, ".jpg", 90);
  ASSERT_TRUE(with_alpha.ok() && without.ok());
  EXPECT_EQ(*with_alpha, *without);
}

TEST_F(EncodeImageTest, RegionOfInterestEncodesLikeItsCopy) {
  const cv::Mat roi = bgr_(cv::Rect(10, 20, 101, 77));  // Padded rows.
  ASSERT_FALSE(roi.isContinuous());
  auto from_roi = EncodeImage(roi, ".jpg", 90);
  auto from_copy = EncodeImage(roi.clone(), ".jpg", 90);
  ASSERT_TRUE(from_roi.ok() && from_copy.ok());
  EXPECT_EQ(*from_roi, *from_copy);
}

TEST_F(EncodeImageTest, PngIsLosslessForGrayBgrAndBgra) {
  cv::Mat gray;
  cv::Mat bgra;
  cv::cvtColor(bgr_, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(bgr_, bgra, cv::COLOR_BGR2BGRA);
  bgra.col(5).setTo(cv::Scalar(1, 2, 3, 77));  // A non-opaque column.
  for (const cv::Mat* image : {&gray, &bgr_, &bgra}) {
    auto png = EncodeImage(*image, ".png", 3);
    ASSERT_TRUE(png.ok()) << png.status();
    auto decoded = DecodeImage(*png, kDecodeUnchanged);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(decoded->type(), image->type());
    EXPECT_EQ(MaxAbsDiff(*decoded, *image), 0.0);
  }
}

TEST_F(EncodeImageTest, PngQualityIsTheCompressionLevelClampedTo9) {
  auto level_95 = EncodeImage(bgr_, ".png", 95);
  auto level_0 = EncodeImage(bgr_, ".png", -4);
  ASSERT_TRUE(level_95.ok() && level_0.ok());
  EXPECT_EQ(*level_95,
            OpenCvEncode(bgr_, ".png", {cv::IMWRITE_PNG_COMPRESSION, 9}));
  EXPECT_EQ(*level_0,
            OpenCvEncode(bgr_, ".png", {cv::IMWRITE_PNG_COMPRESSION, 0}));
  EXPECT_LT(level_95->size(), level_0->size());
}

TEST_F(EncodeImageTest, UnknownExtensionIsInvalidArgument) {
  for (const char* ext : {".bmp", "jpg", "", ".jpgx"}) {
    auto encoded = EncodeImage(bgr_, ext, 95);
    EXPECT_EQ(encoded.status().code(), absl::StatusCode::kInvalidArgument)
        << ext;
    EXPECT_THAT(encoded.status().message(), HasSubstr(".jpg, .jpeg or .png"));
  }
}

TEST_F(EncodeImageTest, JpegQualityOutOfRangeIsInvalidArgument) {
  for (int quality : {0, 101}) {
    auto encoded = EncodeImage(bgr_, ".jpg", quality);
    EXPECT_EQ(encoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(encoded.status().message(), HasSubstr("1..100"));
  }
}

TEST_F(EncodeImageTest, EmptyOrNon8BitJpegImageIsInvalidArgument) {
  EXPECT_EQ(EncodeImage(cv::Mat(), ".png", 9).status().code(),
            absl::StatusCode::kInvalidArgument);
  const cv::Mat floats(8, 8, CV_32FC3, cv::Scalar(0.5, 0.5, 0.5));
  EXPECT_EQ(EncodeImage(floats, ".jpg", 90).status().code(),
            absl::StatusCode::kInvalidArgument);
  const cv::Mat two_channels(8, 8, CV_8UC2, cv::Scalar(1, 2));
  EXPECT_EQ(EncodeImage(two_channels, ".jpg", 90).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace iterd::image
