#include "client/cpp/image_helpers.h"

#include <cstdlib>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/image/reference_images.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::client {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> ReferenceContents(const std::string& case_name) {
  auto images = image::testing::LoadReferenceImages(case_name);
  EXPECT_TRUE(images.ok()) << images.status();
  std::vector<std::string> contents;
  if (images.ok()) {
    for (const auto& reference : *images) contents.push_back(reference.content);
  }
  return contents;
}

cv::Mat OpenCvDecode(const std::string& bytes, int flag) {
  return cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1,
                              const_cast<char*>(bytes.data())),
                      flag);
}

cv::Mat OpenCvRgb(const std::string& bytes) {
  cv::Mat rgb;
  cv::cvtColor(OpenCvDecode(bytes, cv::IMREAD_COLOR), rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

double MaxAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  EXPECT_EQ(a.size(), b.size());
  EXPECT_EQ(a.type(), b.type());
  if (a.size() != b.size() || a.type() != b.type()) return 1e9;
  return cv::norm(a, b, cv::NORM_INF);
}

std::string TempPath(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  return std::string(root != nullptr ? root : "/tmp") + "/" + name;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// The first reference photo (600x600 RGB), decoded by OpenCV.
const cv::Mat& Photo() {
  static const cv::Mat* const photo =
      new cv::Mat(OpenCvRgb(ReferenceContents("f_images").at(0)));
  return *photo;
}

TEST(DecodeImageTest, RealJpegsEqualOpenCvDecodeInRgbExactly) {
  const std::vector<std::string> jpegs = ReferenceContents("f_images");
  ASSERT_EQ(jpegs.size(), 20u);
  for (const std::string& jpeg : jpegs) {
    auto decoded = DecodeImage(jpeg);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->type(), CV_8UC3);
    EXPECT_EQ(MaxAbsDiff(*decoded, OpenCvRgb(jpeg)), 0.0);
  }
}

TEST(DecodeImageTest, RealPngsEqualOpenCvDecodeInRgbExactly) {
  const std::vector<std::string> pngs = ReferenceContents("g_png");
  ASSERT_EQ(pngs.size(), 2u);
  for (const std::string& png : pngs) {
    auto decoded = DecodeImage(png);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(MaxAbsDiff(*decoded, OpenCvRgb(png)), 0.0);
  }
}

TEST(DecodeImageTest, EncodedPngRoundTripsToTheSamePixels) {
  cv::Mat bgr;
  cv::cvtColor(Photo(), bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> png;
  ASSERT_TRUE(cv::imencode(".png", bgr, png));
  auto decoded = DecodeImage(std::string(png.begin(), png.end()));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(MaxAbsDiff(*decoded, Photo()), 0.0);
}

TEST(DecodeImageTest, ToRgbFalseGivesOpenCvBgr) {
  const std::string jpeg = ReferenceContents("f_images").at(2);
  auto decoded = DecodeImage(jpeg, {/*color=*/true, /*to_rgb=*/false});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(MaxAbsDiff(*decoded, OpenCvDecode(jpeg, cv::IMREAD_COLOR)), 0.0);
}

TEST(DecodeImageTest, GrayGivesOneChannelEqualToOpenCvGrayscale) {
  for (const std::string& bytes : {ReferenceContents("f_images").at(3),
                                   ReferenceContents("g_png").at(0)}) {
    auto decoded = DecodeImage(bytes, {/*color=*/false, /*to_rgb=*/true});
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->type(), CV_8UC1);
    EXPECT_EQ(MaxAbsDiff(*decoded, OpenCvDecode(bytes, cv::IMREAD_GRAYSCALE)),
              0.0);
  }
}

TEST(DecodeImageTest, EmptyBytesAreInvalidArgument) {
  auto decoded = DecodeImage("");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("(0 bytes)"));
}

TEST(DecodeImageTest, NonImageBytesNameTheirSizeAndStart) {
  auto decoded = DecodeImage("hello world");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(),
              HasSubstr("not a decodable image (11 bytes, starts with 68 65"));
}

TEST(DecodeImageTest, TruncatedJpegHeaderIsInvalidArgument) {
  auto decoded = DecodeImage(ReferenceContents("f_images").at(0).substr(0, 10));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReadImageTest, JpegFileEqualsDecodeOfItsBytes) {
  const std::string jpeg = ReferenceContents("f_images").at(5);
  const std::string path = TempPath("photo.jpg");
  WriteFile(path, jpeg);
  auto read = ReadImage(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(MaxAbsDiff(*read, OpenCvRgb(jpeg)), 0.0);
}

TEST(ReadImageTest, MissingFileIsNotFoundNamingThePath) {
  const std::string path = TempPath("missing.jpg");
  auto read = ReadImage(path);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(read.status().message(), HasSubstr(path));
}

TEST(ReadImageTest, NonImageFileNamesThePath) {
  const std::string path = TempPath("notes.jpg");
  WriteFile(path, "just some text, not pixels");
  auto read = ReadImage(path);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(),
              HasSubstr("image file " + path + ": not a decodable image"));
}

TEST(ReadImageTest, EmptyFileNamesThePath) {
  const std::string path = TempPath("empty.png");
  WriteFile(path, "");
  auto read = ReadImage(path);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr(path));
}

TEST(ReadImageTest, DirectoryIsInvalidArgumentNamingIt) {
  const std::string path = TempPath("");
  auto read = ReadImage(path);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr(path));
}

TEST(ResizeImageTest, EqualsOpenCvForEachInterpolationCode) {
  for (int code = kInterNearest; code <= kInterLanczos; ++code) {
    for (const cv::Size size :
         {cv::Size(100, 70), cv::Size(640, 480), cv::Size(37, 211)}) {
      auto resized = ResizeImage(Photo(), size.width, size.height, code);
      ASSERT_TRUE(resized.ok()) << resized.status();
      cv::Mat expected;
      cv::resize(Photo(), expected, size, 0, 0, code);
      EXPECT_LE(MaxAbsDiff(*resized, expected), 1.0) << "code " << code;
    }
  }
}

TEST(ResizeImageTest, AutoPicksCubicUpAreaDownLinearMixed) {
  const cv::Mat& photo = Photo();
  const std::pair<cv::Size, int> cases[] = {
      {cv::Size(photo.cols * 2, photo.rows * 2), cv::INTER_CUBIC},
      {cv::Size(photo.cols / 3, photo.rows / 3), cv::INTER_AREA},
      {cv::Size(photo.cols * 2, photo.rows / 2), cv::INTER_LINEAR}};
  for (const auto& [size, flag] : cases) {
    auto resized = ResizeImage(photo, size.width, size.height, kInterAuto);
    ASSERT_TRUE(resized.ok()) << resized.status();
    cv::Mat expected;
    cv::resize(photo, expected, size, 0, 0, flag);
    EXPECT_EQ(MaxAbsDiff(*resized, expected), 0.0) << "flag " << flag;
  }
}

TEST(ResizeImageTest, RandomCodeDrawsFromTheEngineAndNeedsOne) {
  random::Engine rng(42);
  auto resized = ResizeImage(Photo(), 50, 40, kInterRandom, &rng);
  ASSERT_TRUE(resized.ok()) << resized.status();
  EXPECT_EQ(resized->size(), cv::Size(50, 40));
  auto without_engine = ResizeImage(Photo(), 50, 40, kInterRandom);
  EXPECT_EQ(without_engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(without_engine.status().message(), HasSubstr("random::Engine"));
}

TEST(ResizeImageTest, KeepsDepthAndChannelCount) {
  cv::Mat floats;
  Photo().convertTo(floats, CV_32FC3);
  auto resized = ResizeImage(floats, 30, 20);
  ASSERT_TRUE(resized.ok()) << resized.status();
  EXPECT_EQ(resized->type(), CV_32FC3);
  auto gray = ResizeImage(cv::Mat(10, 10, CV_8UC1, cv::Scalar(7)), 5, 4);
  ASSERT_TRUE(gray.ok()) << gray.status();
  EXPECT_EQ(gray->type(), CV_8UC1);
}

TEST(ResizeImageTest, BadArgumentsAreInvalidArgumentNamingThem) {
  EXPECT_THAT(ResizeImage(Photo(), 0, 10).status().message(),
              HasSubstr("width and height must be positive, got 0x10"));
  EXPECT_THAT(ResizeImage(Photo(), 10, 10, 5).status().message(),
              HasSubstr("interpolation must be 0..4"));
  EXPECT_THAT(ResizeImage(cv::Mat(), 10, 10).status().message(),
              HasSubstr("src is an empty image"));
  auto int8 = ResizeImage(cv::Mat(4, 4, CV_8SC3), 2, 2);
  EXPECT_EQ(int8.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(int8.status().message(), HasSubstr("OpenCV cannot resize"));
}

TEST(ResizeShorterSideTest, LongSideUsesIntegerDivision) {
  const cv::Mat tall = Photo()(cv::Rect(0, 0, 200, 300));
  const cv::Mat wide = Photo()(cv::Rect(0, 0, 333, 200));
  auto tall_resized = ResizeShorterSide(tall, 100);
  auto wide_resized = ResizeShorterSide(wide, 100);
  ASSERT_TRUE(tall_resized.ok() && wide_resized.ok());
  EXPECT_EQ(tall_resized->size(), cv::Size(100, 100 * 300 / 200));
  EXPECT_EQ(wide_resized->size(), cv::Size(100 * 333 / 200, 100));
  cv::Mat expected;
  cv::resize(wide, expected, cv::Size(166, 100), 0, 0, cv::INTER_CUBIC);
  EXPECT_LE(MaxAbsDiff(*wide_resized, expected), 1.0);
  EXPECT_THAT(ResizeShorterSide(tall, 0).status().message(),
              HasSubstr("size must be positive, got 0"));
}

TEST(ScaleDownTest, ReferenceExamples) {
  EXPECT_EQ(ScaleDown({640, 480}, {720, 120}), cv::Size(640, 106));
  EXPECT_EQ(ScaleDown({360, 1000}, {480, 500}), cv::Size(360, 375));
  EXPECT_EQ(ScaleDown({300, 400}, {0, 0}), cv::Size(0, 0));
  EXPECT_EQ(ScaleDown({640, 480}, {224, 224}), cv::Size(224, 224));
}

TEST(CenterCropTest, ReferenceDocExample) {
  const cv::Mat src(2321, 3482, CV_8UC1, cv::Scalar(0));
  cv::Rect rect;
  auto out = CenterCrop(src, {1000, 500}, &rect);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(rect, cv::Rect(1241, 910, 1000, 500));
  EXPECT_EQ(out->size(), cv::Size(1000, 500));
}

TEST(CenterCropTest, LargerThanImageScalesDownThenResizes) {
  const cv::Mat& photo = Photo();
  cv::Rect rect;
  auto out = CenterCrop(photo, {photo.cols * 2, photo.rows}, &rect);
  ASSERT_TRUE(out.ok()) << out.status();
  const cv::Size window = ScaleDown(photo.size(), {photo.cols * 2, photo.rows});
  EXPECT_EQ(rect, cv::Rect(0, (photo.rows - window.height) / 2, window.width,
                           window.height));
  cv::Mat expected;
  cv::resize(photo(rect), expected, cv::Size(photo.cols * 2, photo.rows), 0, 0,
             cv::INTER_CUBIC);
  EXPECT_LE(MaxAbsDiff(*out, expected), 1.0);
}

TEST(CenterCropTest, BadSizeIsInvalidArgument) {
  EXPECT_THAT(CenterCrop(Photo(), {0, 10}).status().message(),
              HasSubstr("size must be positive, got 0x10"));
}

TEST(FixedCropTest, RectOutsideTheImageIsNamed) {
  auto out = FixedCrop(Photo(), cv::Rect(599, 0, 2, 2));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(),
              HasSubstr("rect (x0=599, y0=0, w=2, h=2) is empty or leaves the "
                        "600x600 image"));
  EXPECT_FALSE(FixedCrop(Photo(), cv::Rect(-1, 0, 2, 2)).ok());
}

TEST(FixedCropTest, WithoutResizeIsAViewOfTheSource) {
  auto out = FixedCrop(Photo(), cv::Rect(5, 7, 40, 30));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, Photo().ptr(7, 5));
}

TEST(RandomCropTest, RectStaysInsideAndOutputHasSizeOverManySeeds) {
  const cv::Mat& photo = Photo();
  std::set<int> seen_x;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    random::Engine rng(seed);
    cv::Rect rect;
    auto out = RandomCrop(photo, {150, 200}, &rng, &rect);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(rect.size(), cv::Size(150, 200));
    EXPECT_TRUE(rect.x >= 0 && rect.x + rect.width <= photo.cols);
    EXPECT_TRUE(rect.y >= 0 && rect.y + rect.height <= photo.rows);
    EXPECT_EQ(MaxAbsDiff(*out, photo(rect)), 0.0);
    seen_x.insert(rect.x);
  }
  EXPECT_GT(seen_x.size(), 50u);  // The position really is drawn.
}

TEST(RandomCropTest, ReachesBothInclusiveBounds) {
  const cv::Mat src(10, 12, CV_8UC3, cv::Scalar(0, 0, 0));
  std::set<std::pair<int, int>> corners;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    random::Engine rng(seed);
    cv::Rect rect;
    ASSERT_TRUE(RandomCrop(src, {10, 8}, &rng, &rect).ok());
    corners.insert({rect.x, rect.y});
  }
  EXPECT_EQ(corners.count({0, 0}), 1u);
  EXPECT_EQ(corners.count({2, 2}), 1u);
}

TEST(RandomCropTest, SameSeedGivesSameRect) {
  random::Engine first(9), second(9);
  cv::Rect rect_first, rect_second;
  ASSERT_TRUE(RandomCrop(Photo(), {64, 48}, &first, &rect_first).ok());
  ASSERT_TRUE(RandomCrop(Photo(), {64, 48}, &second, &rect_second).ok());
  EXPECT_EQ(rect_first, rect_second);
}

TEST(RandomCropTest, LargerThanImageResizesToSize) {
  const cv::Mat& photo = Photo();
  random::Engine rng(3);
  cv::Rect rect;
  auto out = RandomCrop(photo, {photo.cols + 50, photo.rows / 2}, &rng, &rect);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->size(), cv::Size(photo.cols + 50, photo.rows / 2));
  EXPECT_LE(rect.x + rect.width, photo.cols);
  EXPECT_LE(rect.y + rect.height, photo.rows);
}

TEST(RandomCropTest, NullEngineIsInvalidArgument) {
  auto out = RandomCrop(Photo(), {10, 10}, nullptr);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("rng must not be null"));
}

}  // namespace
}  // namespace iterd::client
