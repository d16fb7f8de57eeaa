#include "common/image/augment/color_ops.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <exception>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/image/augment/random_draws.h"

namespace iterd::image {
namespace {

using Lut = std::array<uint8_t, 256>;

// MXNet's grey weights in stored order (see ApplyColorJitter's comment).
constexpr float kGrayWeights[3] = {0.299f, 0.587f, 0.114f};

// Round to nearest and clamp to 0..255, as cv::saturate_cast<uchar> does.
uint8_t Saturate(float value) { return cv::saturate_cast<uint8_t>(value); }

Lut AffineLut(float multiplier, float offset) {
  Lut lut;
  for (int v = 0; v < 256; ++v) lut[v] = Saturate(v * multiplier + offset);
  return lut;
}

Lut OffsetLut(int offset, int limit) {
  Lut lut;
  for (int v = 0; v < 256; ++v) lut[v] = std::clamp(v + offset, 0, limit);
  return lut;
}

// Applies luts[k] to channel k for k < luts.size() (so alpha, channel 3, is
// untouched when three tables are given). Per-value maps are exact as tables.
void ApplyLuts(absl::Span<const Lut> luts, cv::Mat* image) {
  const int channels = image->channels();
  const int touched = std::min<int>(channels, luts.size());
  for (int y = 0; y < image->rows; ++y) {
    uint8_t* pixel = image->ptr<uint8_t>(y);
    for (int x = 0; x < image->cols; ++x, pixel += channels) {
      for (int k = 0; k < touched; ++k) pixel[k] = luts[k][pixel[k]];
    }
  }
}

float GrayOf(const uint8_t* pixel, int channels) {
  if (channels < 3) return pixel[0];
  return kGrayWeights[0] * pixel[0] + kGrayWeights[1] * pixel[1] +
         kGrayWeights[2] * pixel[2];
}

double MeanGray(const cv::Mat& image) {
  const int channels = image.channels();
  double sum = 0;
  for (int y = 0; y < image.rows; ++y) {
    const uint8_t* pixel = image.ptr<uint8_t>(y);
    for (int x = 0; x < image.cols; ++x, pixel += channels) {
      sum += GrayOf(pixel, channels);
    }
  }
  return sum / (static_cast<double>(image.rows) * image.cols);
}

void Saturation(float alpha, cv::Mat* image) {
  const int channels = image->channels();
  const int colour = std::min(channels, 3);
  for (int y = 0; y < image->rows; ++y) {
    uint8_t* pixel = image->ptr<uint8_t>(y);
    for (int x = 0; x < image->cols; ++x, pixel += channels) {
      const float gray_part = (1 - alpha) * GrayOf(pixel, channels);
      for (int k = 0; k < colour; ++k) {
        pixel[k] = Saturate(alpha * pixel[k] + gray_part);
      }
    }
  }
}

// r = (U + 4U) / 5, d = int(r * 2 * v - v): MXNet's HLS offset.
int HlsOffset(int strength, random::Engine* rng) {
  const float first = UniformFloat(rng, 0, 1);
  const float second = UniformFloat(rng, 0, 1);
  const float r = (first + 4 * second) / 5;
  return static_cast<int>(r * 2 * strength - strength);
}

}  // namespace

void ApplyColorJitter(float brightness, float contrast, float saturation,
                      random::Engine* rng, cv::Mat* image) {
  const float alpha_b = 1 + UniformFloat(rng, -brightness, brightness);
  const float alpha_c = 1 + UniformFloat(rng, -contrast, contrast);
  const float alpha_s = 1 + UniformFloat(rng, -saturation, saturation);
  int order[3] = {0, 1, 2};
  random::Shuffle(absl::MakeSpan(order), rng);
  const int colour = std::min(image->channels(), 3);
  for (int op : order) {
    if (op == 0 && brightness > 0) {
      const Lut lut = AffineLut(alpha_b, 0);
      ApplyLuts(std::vector<Lut>(colour, lut), image);
    } else if (op == 1 && contrast > 0) {
      const float offset = (1 - alpha_c) * static_cast<float>(MeanGray(*image));
      const Lut lut = AffineLut(alpha_c, offset);
      ApplyLuts(std::vector<Lut>(colour, lut), image);
    } else if (op == 2 && saturation > 0) {
      Saturation(alpha_s, image);
    }
  }
}

absl::Status ApplyHlsJitter(int random_h, int random_s, int random_l,
                            random::Engine* rng, cv::Mat* image) {
  const int dh = HlsOffset(random_h, rng);
  const int ds = HlsOffset(random_s, rng);
  const int dl = HlsOffset(random_l, rng);
  if (image->channels() < 3) return absl::OkStatus();
  // OpenCV's 8-bit HLS stores H (0..180), L, S in that order.
  const Lut luts[3] = {OffsetLut(dh, 180), OffsetLut(dl, 255),
                       OffsetLut(ds, 255)};
  try {
    cv::Mat hls;
    cv::cvtColor(*image, hls, cv::COLOR_BGR2HLS);  // Ignores alpha.
    ApplyLuts(luts, &hls);
    if (image->channels() == 3) {
      cv::cvtColor(hls, *image, cv::COLOR_HLS2BGR);  // Writes in place.
    } else {
      cv::Mat bgr;
      cv::cvtColor(hls, bgr, cv::COLOR_HLS2BGR);
      const int from_to[] = {0, 0, 1, 1, 2, 2};
      cv::mixChannels(&bgr, 1, image, 1, from_to, 3);
    }
  } catch (const std::exception&) {  // OpenCV's text is not for clients.
    return absl::InternalError("HLS jitter failed");
  }
  return absl::OkStatus();
}

void ApplyPcaNoise(float pca_noise, random::Engine* rng, cv::Mat* image) {
  float alpha[3];  // r, g, b
  for (float& a : alpha) a = Normal(rng, 0, pca_noise);
  if (image->channels() < 3) return;
  Lut luts[3];
  for (int c = 0; c < 3; ++c) {  // c: 0 = R, 1 = G, 2 = B.
    float delta = 0;
    for (int j = 0; j < 3; ++j) {
      delta += kPcaEigenvalues[j] * kPcaEigenvectors[c][j] * alpha[j];
    }
    // Stored order is BGR: R's table goes to channel 2.
    luts[2 - c] = OffsetLut(static_cast<int>(std::lround(delta)), 255);
  }
  ApplyLuts(luts, image);
}

}  // namespace iterd::image
