#include "common/image/augment/image_iter_augmenter.h"

#include <algorithm>
#include <functional>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

using ::testing::HasSubstr;

ImageIterAugmenter MakeAugmenter(const ImageIterAugmenterParams& params) {
  absl::StatusOr<ImageIterAugmenter> augmenter =
      ImageIterAugmenter::Create(params);
  EXPECT_TRUE(augmenter.ok()) << augmenter.status();
  return *std::move(augmenter);
}

std::vector<float> Augment(const ImageIterAugmenter& augmenter,
                           const cv::Mat& rgb, uint64_t seed = 1) {
  const ImageIterAugmenterParams& p = augmenter.params();
  std::vector<float> out(3 * p.out_height * p.out_width);
  random::Engine rng(seed, 0, 0);
  const absl::Status status = augmenter.Apply(rgb, &rng, absl::MakeSpan(out));
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

// RGB pixels encoding their position: R = x % 256, G = y % 256,
// B = x / 256 + 4 * (y / 256).
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

// Position encoded at output (y, x) of a CHW float result of width `width`.
cv::Point PositionAt(const std::vector<float>& out, int width, int height,
                     int y, int x) {
  const size_t plane = static_cast<size_t>(width) * height;
  const int r = static_cast<int>(out[y * width + x]);
  const int g = static_cast<int>(out[plane + y * width + x]);
  const int b = static_cast<int>(out[2 * plane + y * width + x]);
  return cv::Point(r + 256 * (b % 4), g + 256 * (b / 4));
}

TEST(ImageIterAugmenterTest, CentreCropThenNormaliseGivesChw) {
  ImageIterAugmenterParams params;
  params.out_width = 4;
  params.out_height = 2;
  params.mean = {1, 2, 3};
  params.std = {2};
  const cv::Mat image = PositionImage(6, 4);
  const std::vector<float> out = Augment(MakeAugmenter(params), image);
  // Crop at x0 = (6 - 4) / 2 = 1, y0 = (4 - 2) / 2 = 1.
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 4; ++x) {
        const float pixel = image.at<cv::Vec3b>(y + 1, x + 1)[c];
        EXPECT_FLOAT_EQ(out[c * 8 + y * 4 + x], (pixel - params.mean[c]) / 2);
      }
    }
  }
}

TEST(ImageIterAugmenterTest, ResizeShortEdgeMatchesOpenCvBicubic) {
  ImageIterAugmenterParams params;
  params.resize = 30;
  params.out_width = 40;  // 80x60 -> 40x30.
  params.out_height = 30;
  cv::Mat image(60, 80, CV_8UC3);
  cv::randu(image, 0, 256);
  const std::vector<float> out = Augment(MakeAugmenter(params), image);
  cv::Mat expected;
  cv::resize(image, expected, {40, 30}, 0, 0, cv::INTER_CUBIC);
  for (int y = 0; y < 30; ++y) {
    for (int x = 0; x < 40; ++x) {
      for (int c = 0; c < 3; ++c) {
        ASSERT_EQ(out[c * 1200 + y * 40 + x], expected.at<cv::Vec3b>(y, x)[c]);
      }
    }
  }
}

TEST(ImageIterAugmenterTest, RandomSizedCropAreaAndAspectStayInBounds) {
  ImageIterAugmenterParams params;
  params.out_width = params.out_height = 300;  // Upsampling: corners exact.
  params.rand_crop = params.rand_resize = true;
  params.inter_method = 0;
  const ImageIterAugmenter augmenter = MakeAugmenter(params);
  const cv::Mat image = PositionImage(300, 300);
  double min_area = 1;
  for (int seed = 0; seed < 200; ++seed) {
    const std::vector<float> out = Augment(augmenter, image, seed);
    const cv::Point first = PositionAt(out, 300, 300, 0, 0);
    const cv::Point last = PositionAt(out, 300, 300, 299, 299);
    const double width = last.x - first.x + 1, height = last.y - first.y + 1;
    const double area = width * height / (300.0 * 300.0);
    if (area == 1) continue;  // A fallback centre crop of a square image.
    ASSERT_GE(area, 0.08 - 0.01);
    ASSERT_GE(width / height, 0.75 - 0.02);
    ASSERT_LE(width / height, 4.0 / 3 + 0.02);
    min_area = std::min(min_area, area);
  }
  EXPECT_LT(min_area, 0.2);
}

TEST(ImageIterAugmenterTest, RandomCropsStayInsideAndReachBothEnds) {
  ImageIterAugmenterParams params;
  params.out_width = 20;
  params.out_height = 10;
  params.rand_crop = true;
  const ImageIterAugmenter augmenter = MakeAugmenter(params);
  const cv::Mat image = PositionImage(30, 15);
  int max_x = 0, max_y = 0, min_x = 99, min_y = 99;
  for (int seed = 0; seed < 300; ++seed) {
    const cv::Point origin =
        PositionAt(Augment(augmenter, image, seed), 20, 10, 0, 0);
    min_x = std::min(min_x, origin.x), max_x = std::max(max_x, origin.x);
    min_y = std::min(min_y, origin.y), max_y = std::max(max_y, origin.y);
  }
  EXPECT_EQ(min_x, 0);
  EXPECT_EQ(max_x, 10);
  EXPECT_EQ(min_y, 0);
  EXPECT_EQ(max_y, 5);
}

TEST(ImageIterAugmenterTest, MirrorHappensAboutHalfTheTime) {
  ImageIterAugmenterParams params;
  params.out_width = 4;
  params.out_height = 1;
  params.rand_mirror = true;
  const ImageIterAugmenter augmenter = MakeAugmenter(params);
  const cv::Mat image = PositionImage(4, 1);
  int flips = 0;
  for (int seed = 0; seed < 2000; ++seed)
    flips += Augment(augmenter, image, seed)[0] == 3;
  EXPECT_GT(flips, 900);
  EXPECT_LT(flips, 1100);
}

TEST(ImageIterAugmenterTest, BrightnessScalesWithinItsRange) {
  ImageIterAugmenterParams params;
  params.out_width = params.out_height = 2;
  params.brightness = 0.2f;
  const ImageIterAugmenter augmenter = MakeAugmenter(params);
  const cv::Mat image(2, 2, CV_8UC3, cv::Scalar::all(100));
  for (int seed = 0; seed < 200; ++seed) {
    const std::vector<float> out = Augment(augmenter, image, seed);
    ASSERT_GE(out[0], 80);
    ASSERT_LE(out[0], 120);
    ASSERT_EQ(std::count(out.begin(), out.end(), out[0]), 12);
  }
}

TEST(ImageIterAugmenterTest, ContrastPullsTowardsTheMeanLuma) {
  ImageIterAugmenterParams params;
  params.out_width = params.out_height = 1;
  params.contrast = 0.5f;
  const cv::Mat image(1, 1, CV_8UC3, cv::Scalar(200, 100, 50));  // R, G, B.
  const double luma = 0.299 * 200 + 0.587 * 100 + 0.114 * 50;
  const std::vector<float> out = Augment(MakeAugmenter(params), image, 3);
  const double alpha = (out[0] - luma) / (200 - luma);
  EXPECT_GE(alpha, 0.5);
  EXPECT_LE(alpha, 1.5);
  EXPECT_NEAR(out[1], alpha * 100 + (1 - alpha) * luma, 1e-3);
  EXPECT_NEAR(out[2], alpha * 50 + (1 - alpha) * luma, 1e-3);
}

TEST(ImageIterAugmenterTest, SaturationAndHueKeepLuma) {
  ImageIterAugmenterParams params;
  params.out_width = params.out_height = 1;
  params.saturation = 0.8f;
  params.hue = 0.5f;
  const cv::Mat image(1, 1, CV_8UC3, cv::Scalar(200, 100, 50));
  const double luma = 0.299 * 200 + 0.587 * 100 + 0.114 * 50;
  for (int seed = 0; seed < 20; ++seed) {
    const std::vector<float> out = Augment(MakeAugmenter(params), image, seed);
    EXPECT_NEAR(0.299 * out[0] + 0.587 * out[1] + 0.114 * out[2], luma, 0.5);
  }
}

TEST(ImageIterAugmenterTest, RandomGrayMixesChannelsWhenDrawn) {
  ImageIterAugmenterParams params;
  params.out_width = params.out_height = 1;
  params.rand_gray = 1;
  const cv::Mat image(1, 1, CV_8UC3, cv::Scalar(200, 100, 50));
  const std::vector<float> out = Augment(MakeAugmenter(params), image);
  const float gray = 0.21f * 200 + 0.72f * 100 + 0.07f * 50;
  for (float value : out) EXPECT_NEAR(value, gray, 1e-3);
}

TEST(ImageIterAugmenterTest, LightingAddsOneRgbOffsetEverywhere) {
  ImageIterAugmenterParams params;
  params.out_width = params.out_height = 3;
  params.pca_noise = 0.5f;
  cv::Mat image(3, 3, CV_8UC3);
  cv::randu(image, 0, 256);
  const std::vector<float> out = Augment(MakeAugmenter(params), image);
  for (int c = 0; c < 3; ++c) {
    const float offset = out[c * 9] - image.at<cv::Vec3b>(0, 0)[c];
    EXPECT_NE(offset, 0);
    for (int i = 0; i < 9; ++i) {
      EXPECT_NEAR(out[c * 9 + i] - image.at<cv::Vec3b>(i / 3, i % 3)[c], offset,
                  1e-3);
    }
  }
}

TEST(ImageIterAugmenterTest, SameSeedSameOutputDifferentSeedsDiffer) {
  ImageIterAugmenterParams params;
  params.out_width = params.out_height = 16;
  params.resize = 20;
  params.rand_crop = params.rand_resize = params.rand_mirror = true;
  params.brightness = params.contrast = params.saturation = 0.4f;
  params.hue = 0.1f;
  params.pca_noise = 0.1f;
  params.rand_gray = 0.2f;
  params.mean = {123.68f, 116.28f, 103.53f};
  params.std = {58.395f, 57.12f, 57.375f};
  const ImageIterAugmenter augmenter = MakeAugmenter(params);
  const cv::Mat image = PositionImage(40, 30);
  EXPECT_EQ(Augment(augmenter, image, 4), Augment(augmenter, image, 4));
  EXPECT_NE(Augment(augmenter, image, 4), Augment(augmenter, image, 5));
}

TEST(ImageIterAugmenterTest, InvalidParametersNameTheField) {
  struct Case {
    std::function<void(ImageIterAugmenterParams*)> mutate;
    std::string field;
  };
  const Case cases[] = {
      {[](auto* p) { p->out_width = 0; }, "data_shape"},
      {[](auto* p) { p->rand_resize = true; }, "rand_resize"},
      {[](auto* p) { p->inter_method = 7; }, "inter_method"},
      {[](auto* p) {
         p->mean = {1, 2};
       },
       "mean"},
      {[](auto* p) {
         p->std = {1, 0, 1};
       },
       "std"},
      {[](auto* p) { p->hue = -0.1f; }, "hue"},
      {[](auto* p) { p->rand_gray = 1.5f; }, "rand_gray"},
  };
  for (const Case& c : cases) {
    ImageIterAugmenterParams params;
    params.out_width = params.out_height = 8;
    c.mutate(&params);
    const absl::Status status = ImageIterAugmenter::Create(params).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(status.message(), HasSubstr(c.field));
  }
}

TEST(ImageIterAugmenterTest, WrongInputOrOutputIsInvalidArgument) {
  ImageIterAugmenterParams params;
  params.out_width = params.out_height = 4;
  const ImageIterAugmenter augmenter = MakeAugmenter(params);
  random::Engine rng(1);
  std::vector<float> out(48);
  const cv::Mat gray(8, 8, CV_8UC1);
  EXPECT_EQ(augmenter.Apply(gray, &rng, absl::MakeSpan(out)).code(),
            absl::StatusCode::kInvalidArgument);
  const cv::Mat rgb(8, 8, CV_8UC3, cv::Scalar::all(1));
  out.resize(47);
  EXPECT_EQ(augmenter.Apply(rgb, &rng, absl::MakeSpan(out)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace iterd::image
