#include "common/image/augment/color_ops.h"

#include <algorithm>
#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

bool IsUniformPerChannel(const cv::Mat& image) {
  const int channels = image.channels();
  for (int y = 0; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x) {
      for (int c = 0; c < channels; ++c) {
        if (image.ptr<uint8_t>(y)[x * channels + c] != image.data[c]) {
          return false;
        }
      }
    }
  }
  return true;
}

TEST(ColorOpsTest, BrightnessFactorStaysWithinItsRange) {
  int lowest = 255, highest = 0;
  for (int seed = 0; seed < 300; ++seed) {
    cv::Mat image(4, 5, CV_8UC3, cv::Scalar::all(100));
    random::Engine rng(seed, 0, 0);
    ApplyColorJitter(0.3f, 0, 0, &rng, &image);
    ASSERT_TRUE(IsUniformPerChannel(image));
    lowest = std::min<int>(lowest, image.data[0]);
    highest = std::max<int>(highest, image.data[0]);
  }
  EXPECT_GE(lowest, 70);
  EXPECT_LE(highest, 130);
  EXPECT_LT(lowest, 80);  // The whole range is used.
  EXPECT_GT(highest, 120);
}

TEST(ColorOpsTest, ContrastLeavesAUniformGrayImageUnchanged) {
  cv::Mat image(3, 3, CV_8UC3, cv::Scalar::all(90));
  random::Engine rng(4);
  ApplyColorJitter(0, 0.9f, 0, &rng, &image);
  EXPECT_EQ(cv::countNonZero(image.reshape(1) != 90), 0);
}

TEST(ColorOpsTest, SaturationWeightsChannelsInStoredBgrOrderAsMxnet) {
  // A pure-blue BGR pixel: MXNet's grey is .299 * B = 59.8 (not .114 * B).
  for (int seed = 0; seed < 100; ++seed) {
    cv::Mat image(1, 1, CV_8UC3, cv::Scalar(200, 0, 0));
    random::Engine rng(seed, 1, 0);
    ApplyColorJitter(0, 0, 0.9f, &rng, &image);
    const double blue = image.data[0], red = image.data[2];
    const double alpha = (blue - 59.8) / (200 - 59.8);
    if (alpha > 0.8) continue;  // Need a clear pull towards grey.
    EXPECT_NEAR(red, (1 - alpha) * 59.8, 1.5);
    EXPECT_EQ(image.data[1], image.data[2]);
    return;
  }
  FAIL() << "no seed drew a saturation factor below 0.8";
}

TEST(ColorOpsTest, LightnessJitterKeepsGrayPixelsGrayWithinRange) {
  for (int seed = 0; seed < 50; ++seed) {
    cv::Mat image(2, 2, CV_8UC3, cv::Scalar::all(128));
    random::Engine rng(seed, 0, 0);
    ASSERT_TRUE(ApplyHlsJitter(0, 0, 20, &rng, &image).ok());
    EXPECT_EQ(image.data[0], image.data[1]);
    EXPECT_EQ(image.data[1], image.data[2]);
    EXPECT_GE(image.data[0], 128 - 21);
    EXPECT_LE(image.data[0], 128 + 21);
  }
}

TEST(ColorOpsTest, HlsJitterKeepsAlphaOfBgra) {
  cv::Mat image(2, 2, CV_8UC4, cv::Scalar(10, 80, 200, 77));
  random::Engine rng(2);
  ASSERT_TRUE(ApplyHlsJitter(30, 30, 30, &rng, &image).ok());
  EXPECT_EQ(image.data[3], 77);
  EXPECT_TRUE(IsUniformPerChannel(image));
}

TEST(ColorOpsTest, PcaNoiseShiftsEachChannelByOneConstant) {
  bool changed = false;
  for (int seed = 0; seed < 10; ++seed) {
    cv::Mat image(3, 4, CV_8UC4, cv::Scalar(100, 110, 120, 33));
    random::Engine rng(seed, 0, 0);
    ApplyPcaNoise(0.5f, &rng, &image);
    ASSERT_TRUE(IsUniformPerChannel(image));
    EXPECT_EQ(image.data[3], 33);
    changed |= image.data[0] != 100 || image.data[2] != 120;
  }
  EXPECT_TRUE(changed);
}

TEST(ColorOpsTest, GrayImagesSkipHlsAndPca) {
  cv::Mat image(2, 2, CV_8UC1, cv::Scalar::all(50));
  random::Engine rng(2);
  ASSERT_TRUE(ApplyHlsJitter(30, 30, 30, &rng, &image).ok());
  ApplyPcaNoise(1.0f, &rng, &image);
  EXPECT_EQ(cv::countNonZero(image != 50), 0);
}

}  // namespace
}  // namespace iterd::image
