#include "common/image/augment/interpolation.h"

#include <opencv2/imgproc.hpp>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

TEST(InterpolationTest, ValidCodesAreZeroToFourNineAndTen) {
  for (int code = -1; code <= 11; ++code) {
    const bool expected = (code >= 0 && code <= 4) || code == 9 || code == 10;
    EXPECT_EQ(IsValidInterMethod(code), expected) << code;
  }
}

TEST(InterpolationTest, FixedCodesAreOpenCvFlags) {
  random::Engine rng(1);
  EXPECT_EQ(InterpolationFlag(0, {10, 10}, {5, 5}, &rng), cv::INTER_NEAREST);
  EXPECT_EQ(InterpolationFlag(1, {10, 10}, {5, 5}, &rng), cv::INTER_LINEAR);
  EXPECT_EQ(InterpolationFlag(2, {10, 10}, {5, 5}, &rng), cv::INTER_CUBIC);
  EXPECT_EQ(InterpolationFlag(3, {10, 10}, {5, 5}, &rng), cv::INTER_AREA);
  EXPECT_EQ(InterpolationFlag(4, {10, 10}, {5, 5}, &rng), cv::INTER_LANCZOS4);
}

TEST(InterpolationTest, AutoIsCubicUpAreaDownLinearMixed) {
  random::Engine rng(1);
  EXPECT_EQ(InterpolationFlag(9, {10, 10}, {20, 20}, &rng), cv::INTER_CUBIC);
  EXPECT_EQ(InterpolationFlag(9, {10, 10}, {5, 5}, &rng), cv::INTER_AREA);
  EXPECT_EQ(InterpolationFlag(9, {10, 10}, {20, 5}, &rng), cv::INTER_LINEAR);
  EXPECT_EQ(InterpolationFlag(9, {10, 10}, {10, 10}, &rng), cv::INTER_LINEAR);
}

TEST(InterpolationTest, RandomPicksEveryCodeFromZeroToFour) {
  random::Engine rng(5);
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    seen.insert(InterpolationFlag(10, {10, 10}, {5, 5}, &rng));
  }
  EXPECT_THAT(seen, ::testing::ElementsAre(0, 1, 2, 3, 4));
}

TEST(InterpolationTest, ResizeIntoItsOwnCropReadsTheOriginalPixels) {
  // A same-sized resize of a crop into the crop's parent must not overwrite
  // the pixels it still reads.
  cv::Mat image(4, 4, CV_8UC1);
  for (int i = 0; i < 16; ++i) image.data[i] = static_cast<uint8_t>(i * 10);
  const cv::Mat original = image.clone();
  random::Engine rng(1);
  const cv::Mat crop = image(cv::Rect(2, 2, 2, 2));
  ASSERT_TRUE(ResizeImage(crop, {4, 4}, 0, &rng, &image).ok());
  EXPECT_EQ(image.at<uint8_t>(0, 0), original.at<uint8_t>(2, 2));
  EXPECT_EQ(image.at<uint8_t>(3, 3), original.at<uint8_t>(3, 3));
}

TEST(InterpolationTest, ResizeToEmptySizeIsInvalidArgument) {
  cv::Mat image(4, 4, CV_8UC3, cv::Scalar::all(1));
  random::Engine rng(1);
  EXPECT_EQ(ResizeImage(image, {0, 4}, 1, &rng, &image).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InterpolationTest, ResizeBeyondTheAugmentLimitIsRefusedBeforeAllocating) {
  // A 1-pixel-high image whose shorter edge is resized to 16384: the long
  // edge would be 16384 * 100000.
  cv::Mat image(1, 100000, CV_8UC3, cv::Scalar::all(1));
  random::Engine rng(1);
  const absl::Status status =
      ResizeImage(image, {1638400000, 16384}, 1, &rng, &image);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr("more than 268435456 pixels"));
  EXPECT_EQ(image.cols, 100000);  // Untouched.
  EXPECT_FALSE(CheckAugmentSize({-5, 10}).ok());
  EXPECT_TRUE(CheckAugmentSize({16384, 16384}).ok());
}

}  // namespace
}  // namespace iterd::image
