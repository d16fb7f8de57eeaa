#include "common/image/augment/default_augmenter.h"

#include <algorithm>
#include <functional>
#include <opencv2/imgproc.hpp>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

using ::testing::HasSubstr;

// An image whose pixels encode their own position: B = x % 256,
// G = y % 256, R = x / 256 + 4 * (y / 256). Nearest-neighbour resampling
// keeps positions decodable.
cv::Mat PositionImage(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(x % 256, y % 256, x / 256 + 4 * (y / 256));
    }
  }
  return image;
}

cv::Point PositionOf(const cv::Mat& image, int y, int x) {
  const cv::Vec3b p = image.at<cv::Vec3b>(y, x);
  return cv::Point(p[0] + 256 * (p[2] % 4), p[1] + 256 * (p[2] / 4));
}

DefaultAugmenter MakeAugmenter(const DefaultAugmenterParams& params) {
  absl::StatusOr<DefaultAugmenter> augmenter = DefaultAugmenter::Create(params);
  EXPECT_TRUE(augmenter.ok()) << augmenter.status();
  return *std::move(augmenter);
}

bool SameBytes(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() &&
         cv::countNonZero(a.reshape(1) != b.reshape(1)) == 0;
}

TEST(DefaultAugmenterTest, ResizeUsesIntegerDivisionForTheLongEdge) {
  DefaultAugmenterParams params;
  params.resize = 256;
  params.out_width = 341;
  params.out_height = 256;
  cv::Mat landscape = PositionImage(500, 375);
  random::Engine rng(1);
  ASSERT_TRUE(MakeAugmenter(params).Apply(&landscape, &rng).ok());
  cv::Mat expected;
  cv::resize(PositionImage(500, 375), expected, {341, 256}, 0, 0,
             cv::INTER_LINEAR);
  EXPECT_TRUE(SameBytes(landscape, expected));

  params.out_width = 256;
  params.out_height = 341;
  cv::Mat portrait = PositionImage(375, 500);
  ASSERT_TRUE(MakeAugmenter(params).Apply(&portrait, &rng).ok());
  EXPECT_EQ(portrait.size(), cv::Size(256, 341));
}

TEST(DefaultAugmenterTest, CentreCropOf341x256To224IsAtX58Y16) {
  DefaultAugmenterParams params;
  params.out_width = params.out_height = 224;
  cv::Mat image = PositionImage(341, 256);
  random::Engine rng(1);
  ASSERT_TRUE(MakeAugmenter(params).Apply(&image, &rng).ok());
  ASSERT_EQ(image.size(), cv::Size(224, 224));
  EXPECT_EQ(PositionOf(image, 0, 0), cv::Point(58, 16));
  EXPECT_EQ(PositionOf(image, 223, 223), cv::Point(58 + 223, 16 + 223));
}

TEST(DefaultAugmenterTest, RandomCropsStayInsideAndReachBothEnds) {
  DefaultAugmenterParams params;
  params.out_width = params.out_height = 224;
  params.rand_crop = true;
  const DefaultAugmenter augmenter = MakeAugmenter(params);
  int min_x = 1000, max_x = -1, min_y = 1000, max_y = -1;
  for (int seed = 0; seed < 1000; ++seed) {
    cv::Mat image = PositionImage(341, 256);
    random::Engine rng(seed, 0, 0);
    ASSERT_TRUE(augmenter.Apply(&image, &rng).ok());
    const cv::Point origin = PositionOf(image, 0, 0);
    ASSERT_EQ(PositionOf(image, 223, 223), origin + cv::Point(223, 223));
    min_x = std::min(min_x, origin.x), max_x = std::max(max_x, origin.x);
    min_y = std::min(min_y, origin.y), max_y = std::max(max_y, origin.y);
  }
  EXPECT_EQ(min_x, 0);
  EXPECT_EQ(max_x, 341 - 224);
  EXPECT_EQ(min_y, 0);
  EXPECT_EQ(max_y, 256 - 224);
}

TEST(DefaultAugmenterTest, SmallImagesAreUpsizedBeforeTheCrop) {
  DefaultAugmenterParams params;
  params.out_width = params.out_height = 224;
  cv::Mat image = PositionImage(100, 50);
  random::Engine rng(1);
  ASSERT_TRUE(MakeAugmenter(params).Apply(&image, &rng).ok());
  EXPECT_EQ(image.size(), cv::Size(224, 224));
}

TEST(DefaultAugmenterTest, RandomResizedCropAreaAndAspectStayInBounds) {
  DefaultAugmenterParams params;
  params.out_width = params.out_height = 400;  // Upsampling: corners exact.
  params.random_resized_crop = true;
  params.min_random_area = 0.2f;
  params.max_random_area = 0.6f;
  params.min_aspect_ratio = 0.75f;
  params.max_aspect_ratio = 4.0f / 3;
  params.inter_method = 0;
  const DefaultAugmenter augmenter = MakeAugmenter(params);
  EXPECT_EQ(augmenter.planned_short_edge(), -1);
  double min_area = 1, max_area = 0;
  for (int seed = 0; seed < 300; ++seed) {
    cv::Mat image = PositionImage(400, 400);
    random::Engine rng(seed, 0, 0);
    ASSERT_TRUE(augmenter.Apply(&image, &rng).ok());
    const cv::Point first = PositionOf(image, 0, 0);
    const cv::Point last = PositionOf(image, 399, 399);
    const double width = last.x - first.x + 1, height = last.y - first.y + 1;
    const double area = width * height / (400.0 * 400.0);
    ASSERT_GE(area, 0.2 - 0.01);
    ASSERT_LE(area, 0.6 + 0.01);
    ASSERT_GE(width / height, 0.75 - 0.01);
    ASSERT_LE(width / height, 4.0 / 3 + 0.01);
    min_area = std::min(min_area, area), max_area = std::max(max_area, area);
  }
  EXPECT_LT(min_area, 0.25);
  EXPECT_GT(max_area, 0.55);
}

TEST(DefaultAugmenterTest, AffineOutputSizeIsClampedScaledSize) {
  // min_img_size 200 triggers the affine step; the 100x60 image lands in the
  // centre of a 200x200 canvas filled with fill_value.
  DefaultAugmenterParams params;
  params.out_width = params.out_height = 200;
  params.min_img_size = 200;
  params.fill_value = 7;
  cv::Mat image(60, 100, CV_8UC3, cv::Scalar::all(50));
  random::Engine rng(1);
  ASSERT_TRUE(MakeAugmenter(params).Apply(&image, &rng).ok());
  ASSERT_EQ(image.size(), cv::Size(200, 200));
  EXPECT_EQ(image.at<cv::Vec3b>(0, 0), cv::Vec3b(7, 7, 7));
  EXPECT_EQ(image.at<cv::Vec3b>(100, 100), cv::Vec3b(50, 50, 50));
  EXPECT_EQ(image.at<cv::Vec3b>(100, 45), cv::Vec3b(7, 7, 7));
  EXPECT_EQ(image.at<cv::Vec3b>(75, 60), cv::Vec3b(50, 50, 50));
}

TEST(DefaultAugmenterTest, RotateNinetyKeepsSizeAndFillsTheSides) {
  DefaultAugmenterParams params;
  params.out_width = 100;
  params.out_height = 60;
  params.rotate = 90;
  params.fill_value = 255;
  cv::Mat image(60, 100, CV_8UC1, cv::Scalar::all(50));
  random::Engine rng(1);
  ASSERT_TRUE(MakeAugmenter(params).Apply(&image, &rng).ok());
  ASSERT_EQ(image.size(), cv::Size(100, 60));
  EXPECT_EQ(image.at<uint8_t>(30, 5), 255);
  EXPECT_EQ(image.at<uint8_t>(30, 50), 50);
  EXPECT_EQ(image.at<uint8_t>(0, 50), 50);
}

TEST(DefaultAugmenterTest, WithoutTriggersTheImagePassesUnchanged) {
  DefaultAugmenterParams params;
  params.out_width = 40;
  params.out_height = 30;
  params.random_resized_crop = true;  // Trivial ranges: no crop, no affine.
  params.max_aspect_ratio = 0;
  const cv::Mat original = PositionImage(40, 30);
  cv::Mat image = original.clone();
  random::Engine rng(1), untouched(1);
  ASSERT_TRUE(MakeAugmenter(params).Apply(&image, &rng).ok());
  EXPECT_TRUE(SameBytes(image, original));
  EXPECT_EQ(rng.Next(), untouched.Next());  // Nothing was drawn.
}

TEST(DefaultAugmenterTest, PadSurroundsTheImageWithFillValue) {
  DefaultAugmenterParams params;
  params.out_width = params.out_height = 14;
  params.pad = 2;
  params.fill_value = 9;
  cv::Mat image(10, 10, CV_8UC3, cv::Scalar::all(50));
  random::Engine rng(1);
  ASSERT_TRUE(MakeAugmenter(params).Apply(&image, &rng).ok());
  EXPECT_EQ(image.at<cv::Vec3b>(0, 0), cv::Vec3b(9, 9, 9));
  EXPECT_EQ(image.at<cv::Vec3b>(13, 12), cv::Vec3b(9, 9, 9));
  EXPECT_EQ(image.at<cv::Vec3b>(2, 2), cv::Vec3b(50, 50, 50));
}

TEST(DefaultAugmenterTest, CropSizeSquareIsCentredAndResized) {
  DefaultAugmenterParams params;
  params.out_width = params.out_height = 100;
  params.min_crop_size = params.max_crop_size = 100;
  params.inter_method = 0;
  cv::Mat image = PositionImage(300, 200);
  random::Engine rng(1);
  ASSERT_TRUE(MakeAugmenter(params).Apply(&image, &rng).ok());
  EXPECT_EQ(PositionOf(image, 0, 0), cv::Point(100, 50));

  cv::Mat small = PositionImage(80, 80);
  const absl::Status status = MakeAugmenter(params).Apply(&small, &rng);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("max_crop_size"));
}

TEST(DefaultAugmenterTest, GrayAndBgraKeepTheirChannels) {
  DefaultAugmenterParams params;
  params.out_width = params.out_height = 32;
  params.resize = 40;
  params.brightness = params.contrast = params.saturation = 0.4f;
  params.random_h = params.random_l = params.random_s = 10;
  params.pca_noise = 0.1f;
  params.max_rotate_angle = 10;
  const DefaultAugmenter augmenter = MakeAugmenter(params);
  for (int type : {CV_8UC1, CV_8UC4}) {
    cv::Mat image(50, 70, type, cv::Scalar::all(120));
    random::Engine rng(3);
    ASSERT_TRUE(augmenter.Apply(&image, &rng).ok());
    EXPECT_EQ(image.type(), type);
    EXPECT_EQ(image.size(), cv::Size(32, 32));
  }
}

TEST(DefaultAugmenterTest, SameSeedSameBytesDifferentSeedsDiffer) {
  DefaultAugmenterParams params;
  params.out_width = params.out_height = 64;
  params.resize = 80;
  params.rand_crop = true;
  params.max_rotate_angle = 15;
  params.max_shear_ratio = 0.1f;
  params.brightness = params.contrast = params.saturation = 0.3f;
  params.random_h = 10;
  params.pca_noise = 0.1f;
  params.inter_method = 10;
  const DefaultAugmenter augmenter = MakeAugmenter(params);
  const cv::Mat source = PositionImage(120, 90);
  auto run = [&](uint64_t seed) {
    cv::Mat image = source.clone();
    random::Engine rng(seed, 0, 5);
    EXPECT_TRUE(augmenter.Apply(&image, &rng).ok());
    return image.clone();
  };
  EXPECT_TRUE(SameBytes(run(1), run(1)));
  EXPECT_FALSE(SameBytes(run(1), run(2)));
}

TEST(DefaultAugmenterTest, PlannedShortEdgeIsKnownOnlyWithoutRandomGeometry) {
  DefaultAugmenterParams params;
  params.out_width = params.out_height = 224;
  EXPECT_EQ(MakeAugmenter(params).planned_short_edge(), -1);
  params.resize = 256;
  params.rand_crop = true;
  EXPECT_EQ(MakeAugmenter(params).planned_short_edge(), 256);
  params.max_random_scale = 1.2f;
  EXPECT_EQ(MakeAugmenter(params).planned_short_edge(), -1);
}

TEST(DefaultAugmenterTest, InvalidParametersNameTheField) {
  struct Case {
    std::function<void(DefaultAugmenterParams*)> mutate;
    std::string field;
  };
  const Case cases[] = {
      {[](auto* p) { p->out_height = 0; }, "data_shape"},
      {[](auto* p) { p->inter_method = 5; }, "inter_method"},
      {[](auto* p) { p->random_resized_crop = p->rand_crop = true; },
       "rand_crop"},
      {[](auto* p) {
         p->random_resized_crop = true;
         p->max_crop_size = p->min_crop_size = 10;
       },
       "max_crop_size"},
      {[](auto* p) {
         p->random_resized_crop = true;
         p->max_random_scale = 1.5f;
       },
       "max_random_scale"},
      {[](auto* p) { p->min_random_scale = 1.5f; }, "min_random_scale"},
      {[](auto* p) { p->min_random_area = 0.9f, p->max_random_area = 0.5f; },
       "min_random_area"},
      {[](auto* p) { p->min_aspect_ratio = 2.0f, p->max_aspect_ratio = 1; },
       "min_aspect_ratio"},
      {[](auto* p) { p->max_aspect_ratio = 1.5f; }, "max_aspect_ratio"},
      {[](auto* p) { p->max_crop_size = 100; }, "min_crop_size"},
      {[](auto* p) { p->min_crop_size = 50, p->max_crop_size = 40; },
       "max_crop_size"},
      {[](auto* p) {
         p->resize = 64;
         p->min_crop_size = 50, p->max_crop_size = 100;
       },
       "max_crop_size"},
      {[](auto* p) { p->min_img_size = 300, p->max_img_size = 200; },
       "min_img_size"},
      {[](auto* p) { p->fill_value = 256; }, "fill_value"},
      {[](auto* p) { p->brightness = -1; }, "brightness"},
      {[](auto* p) { p->pad = -1; }, "pad"},
  };
  for (const Case& c : cases) {
    DefaultAugmenterParams params;
    params.out_width = params.out_height = 32;
    c.mutate(&params);
    const absl::Status status = DefaultAugmenter::Create(params).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(status.message(), HasSubstr(c.field));
  }
}

TEST(DefaultAugmenterTest, EmptyOrWrongDepthInputIsInvalidArgument) {
  DefaultAugmenterParams params;
  params.out_width = params.out_height = 8;
  const DefaultAugmenter augmenter = MakeAugmenter(params);
  random::Engine rng(1);
  cv::Mat empty;
  EXPECT_EQ(augmenter.Apply(&empty, &rng).code(),
            absl::StatusCode::kInvalidArgument);
  cv::Mat floats(8, 8, CV_32FC3);
  EXPECT_EQ(augmenter.Apply(&floats, &rng).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace iterd::image
