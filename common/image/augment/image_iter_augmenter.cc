#include "common/image/augment/image_iter_augmenter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/image/augment/color_ops.h"
#include "common/image/augment/interpolation.h"
#include "common/image/augment/random_draws.h"
#include "common/status/status_macros.h"

namespace iterd::image {
namespace {

// ITU-R 601 luma on RGB, as mx.image's Contrast/SaturationJitterAug.
constexpr double kLuma[3] = {0.299, 0.587, 0.114};
// HueJitterAug's RGB -> YIQ matrix and its inverse.
constexpr double kToYiq[3][3] = {
    {0.299, 0.587, 0.114}, {0.596, -0.274, -0.321}, {0.211, -0.523, 0.311}};
constexpr double kFromYiq[3][3] = {
    {1.0, 0.956, 0.621}, {1.0, -0.272, -0.647}, {1.0, -1.107, 1.705}};
// RandomGrayAug's weights (every channel becomes this mix).
constexpr double kGrayMix[3] = {0.21, 0.72, 0.07};

// x -> matrix * x + offset on a pixel's RGB column vector.
struct ColorAffine {
  double matrix[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  double offset[3] = {0, 0, 0};

  // Composes `m` (and then `add`) after the current map.
  void Then(const double m[3][3], const double add[3]) {
    ColorAffine result;
    for (int i = 0; i < 3; ++i) {
      result.offset[i] = add[i];
      for (int j = 0; j < 3; ++j) {
        double sum = 0;
        for (int k = 0; k < 3; ++k) sum += m[i][k] * matrix[k][j];
        result.matrix[i][j] = sum;
        result.offset[i] += m[i][j] * offset[j];
      }
    }
    *this = result;
  }
  void Scale(double alpha) {
    const double m[3][3] = {{alpha, 0, 0}, {0, alpha, 0}, {0, 0, alpha}};
    const double zero[3] = {0, 0, 0};
    Then(m, zero);
  }
  bool IsDiagonal() const {
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        if (i != j && matrix[i][j] != 0) return false;
      }
    }
    return true;
  }
};

absl::Status FieldError(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

// mx.image.scale_down: shrink `size` (w, h) to fit `source`, keeping aspect.
cv::Size ScaleDown(cv::Size source, cv::Size size) {
  double w = size.width, h = size.height;
  if (source.height < h) {
    w = w * source.height / h;
    h = source.height;
  }
  if (source.width < w) {
    h = h * source.width / w;
    w = source.width;
  }
  return cv::Size(static_cast<int>(w), static_cast<int>(h));
}

// The mean RGB of an 8-bit image (the input to contrast's mean luma).
void MeanRgb(const cv::Mat& image, double mean[3]) {
  const cv::Scalar sums = cv::sum(image);
  const double count = static_cast<double>(image.rows) * image.cols;
  for (int c = 0; c < 3; ++c) mean[c] = sums[c] / count;
}

void WriteChw(const cv::Mat& image, bool flip, const ColorAffine& color,
              float* out) {
  const int height = image.rows, width = image.cols;
  const size_t plane = static_cast<size_t>(height) * width;
  if (color.IsDiagonal()) {
    // The common case (only normalisation): one table per channel.
    float lut[3][256];
    for (int c = 0; c < 3; ++c) {
      for (int v = 0; v < 256; ++v) {
        lut[c][v] =
            static_cast<float>(color.matrix[c][c] * v + color.offset[c]);
      }
    }
    for (int y = 0; y < height; ++y) {
      const uint8_t* src = image.ptr<uint8_t>(y);
      float* r = out + y * width;
      float* g = r + plane;
      float* b = g + plane;
      // The mirror branch is hoisted into the pointer's step.
      const uint8_t* pixel = src + (flip ? 3 * (width - 1) : 0);
      const int step = flip ? -3 : 3;
      for (int x = 0; x < width; ++x, pixel += step) {
        r[x] = lut[0][pixel[0]];
        g[x] = lut[1][pixel[1]];
        b[x] = lut[2][pixel[2]];
      }
    }
    return;
  }
  float m[3][3], t[3];
  for (int i = 0; i < 3; ++i) {
    t[i] = static_cast<float>(color.offset[i]);
    for (int j = 0; j < 3; ++j)
      m[i][j] = static_cast<float>(color.matrix[i][j]);
  }
  for (int y = 0; y < height; ++y) {
    const uint8_t* src = image.ptr<uint8_t>(y);
    float* dst = out + y * width;
    for (int x = 0; x < width; ++x) {
      const uint8_t* pixel = src + 3 * (flip ? width - 1 - x : x);
      const float p0 = pixel[0], p1 = pixel[1], p2 = pixel[2];
      for (int c = 0; c < 3; ++c) {
        dst[c * plane + x] = m[c][0] * p0 + m[c][1] * p1 + m[c][2] * p2 + t[c];
      }
    }
  }
}

}  // namespace

absl::StatusOr<ImageIterAugmenter> ImageIterAugmenter::Create(
    const ImageIterAugmenterParams& params) {
  const ImageIterAugmenterParams& p = params;
  if (p.out_height <= 0 || p.out_width <= 0) {
    return FieldError("data_shape",
                      absl::StrCat("output size ", p.out_height, "x",
                                   p.out_width, " must be positive"));
  }
  if (p.rand_resize && !p.rand_crop) {
    return FieldError("rand_resize", "requires rand_crop");
  }
  if (!IsValidInterMethod(p.inter_method)) {
    return FieldError(
        "inter_method",
        absl::StrCat(p.inter_method, " is not one of 0, 1, 2, 3, 4, 9, 10"));
  }
  if (p.mean.size() != 0 && p.mean.size() != 1 && p.mean.size() != 3) {
    return FieldError("mean",
                      absl::StrCat(p.mean.size(), " values; expected 1 or 3"));
  }
  if (p.std.size() != 0 && p.std.size() != 1 && p.std.size() != 3) {
    return FieldError("std",
                      absl::StrCat(p.std.size(), " values; expected 1 or 3"));
  }
  for (float value : p.std) {
    if (value == 0 || !std::isfinite(value)) {
      return FieldError("std", absl::StrCat(value,
                                            " must be finite and "
                                            "non-zero"));
    }
  }
  const std::pair<const char*, float> strengths[] = {
      {"brightness", p.brightness}, {"contrast", p.contrast},
      {"saturation", p.saturation}, {"hue", p.hue},
      {"pca_noise", p.pca_noise},   {"rand_gray", p.rand_gray}};
  for (const auto& [field, value] : strengths) {
    if (!(value >= 0)) return FieldError(field, absl::StrCat(value, " < 0"));
  }
  if (p.rand_gray > 1) {
    return FieldError("rand_gray", absl::StrCat(p.rand_gray, " > 1"));
  }
  return ImageIterAugmenter(params);
}

absl::Status ImageIterAugmenter::ResizeAndCrop(const cv::Mat& rgb,
                                               random::Engine* rng,
                                               cv::Mat* image) const {
  const ImageIterAugmenterParams& p = params_;
  *image = rgb;
  if (p.resize > 0) {  // mx.image.resize_short.
    const int64_t h = image->rows, w = image->cols, size = p.resize;
    const cv::Size target =
        h > w ? cv::Size(size, static_cast<int>(size * h / w))
              : cv::Size(static_cast<int>(size * w / h), size);
    ITERD_RETURN_IF_ERROR(
        ResizeImage(*image, target, p.inter_method, rng, image));
  }
  const cv::Size out_size(p.out_width, p.out_height);
  const int h = image->rows, w = image->cols;
  cv::Rect rect;
  bool found = false;
  if (p.rand_resize) {  // random_size_crop(area 0.08, ratio (3/4, 4/3)).
    const float log_min = std::log(3.0f / 4), log_max = std::log(4.0f / 3);
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
      const double target =
          UniformFloat(rng, 0.08f, 1.0f) * static_cast<double>(h) * w;
      const double ratio = std::exp(UniformFloat(rng, log_min, log_max));
      // Python's round() rounds halves to even, as nearbyint does.
      const int new_w =
          static_cast<int>(std::nearbyint(std::sqrt(target * ratio)));
      const int new_h =
          static_cast<int>(std::nearbyint(std::sqrt(target / ratio)));
      if (new_w >= 1 && new_h >= 1 && new_w <= w && new_h <= h) {
        const int x0 = UniformIntInclusive(rng, 0, w - new_w);
        const int y0 = UniformIntInclusive(rng, 0, h - new_h);
        rect = cv::Rect(x0, y0, new_w, new_h);
        found = true;
      }
    }
  }
  if (!found) {
    const cv::Size crop = ScaleDown(image->size(), out_size);
    if (crop.width < 1 || crop.height < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", w, "x", h, " image cannot be cropped to ",
                       out_size.width, "x", out_size.height));
    }
    if (p.rand_crop && !p.rand_resize) {  // random_crop: x0 drawn first.
      const int x0 = UniformIntInclusive(rng, 0, w - crop.width);
      const int y0 = UniformIntInclusive(rng, 0, h - crop.height);
      rect = cv::Rect(x0, y0, crop.width, crop.height);
    } else {  // center_crop, also random_size_crop's fallback.
      rect = cv::Rect((w - crop.width) / 2, (h - crop.height) / 2, crop.width,
                      crop.height);
    }
  }
  *image = (*image)(rect);
  if (rect.size() != out_size) {  // fixed_crop's resize.
    ITERD_RETURN_IF_ERROR(
        ResizeImage(*image, out_size, p.inter_method, rng, image));
  }
  return absl::OkStatus();
}

absl::Status ImageIterAugmenter::Apply(const cv::Mat& rgb, random::Engine* rng,
                                       absl::Span<float> out) const {
  const ImageIterAugmenterParams& p = params_;
  if (rgb.empty() || rgb.type() != CV_8UC3) {
    return absl::InvalidArgumentError(
        absl::StrCat("ImageIter augmenter input must be a non-empty RGB uint8 "
                     "image; got ",
                     rgb.cols, "x", rgb.rows, " type ", rgb.type()));
  }
  const size_t needed = size_t{3} * p.out_height * p.out_width;
  if (out.size() != needed) {
    return absl::InvalidArgumentError(
        absl::StrCat("ImageIter augmenter output has ", out.size(),
                     " floats, needs ", needed));
  }
  cv::Mat image;
  ITERD_RETURN_IF_ERROR(ResizeAndCrop(rgb, rng, &image));
  const bool flip = p.rand_mirror && UniformFloat(rng, 0, 1) < 0.5f;

  ColorAffine color;
  // ColorJitterAug: the enabled members in a random order, each drawing its
  // factor when it runs.
  std::vector<int> jitters;
  if (p.brightness > 0) jitters.push_back(0);
  if (p.contrast > 0) jitters.push_back(1);
  if (p.saturation > 0) jitters.push_back(2);
  random::Shuffle(absl::MakeSpan(jitters), rng);
  double crop_mean[3] = {0, 0, 0};
  if (p.contrast > 0) MeanRgb(image, crop_mean);
  for (int jitter : jitters) {
    const float strength = jitter == 0   ? p.brightness
                           : jitter == 1 ? p.contrast
                                         : p.saturation;
    const double alpha = 1.0 + UniformFloat(rng, -strength, strength);
    if (jitter == 0) {
      color.Scale(alpha);
    } else if (jitter == 1) {
      // Mean luma of the image as it is now: the map applied to the mean.
      double luma = 0;
      for (int c = 0; c < 3; ++c) {
        double mapped = color.offset[c];
        for (int k = 0; k < 3; ++k) mapped += color.matrix[c][k] * crop_mean[k];
        luma += kLuma[c] * mapped;
      }
      color.Scale(alpha);
      for (double& offset : color.offset) offset += (1 - alpha) * luma;
    } else {
      double m[3][3];
      for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) {
          m[i][j] = (i == j ? alpha : 0) + (1 - alpha) * kLuma[j];
        }
      }
      const double zero[3] = {0, 0, 0};
      color.Then(m, zero);
    }
  }
  const double zero[3] = {0, 0, 0};
  if (p.hue > 0) {
    const double alpha = UniformFloat(rng, -p.hue, p.hue);
    const double u = std::cos(alpha * M_PI), w = std::sin(alpha * M_PI);
    const double rotation[3][3] = {{1, 0, 0}, {0, u, -w}, {0, w, u}};
    double rotated[3][3], m[3][3];  // kFromYiq * rotation * kToYiq.
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        rotated[i][j] = 0;
        for (int k = 0; k < 3; ++k)
          rotated[i][j] += rotation[i][k] * kToYiq[k][j];
      }
    }
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        m[i][j] = 0;
        for (int k = 0; k < 3; ++k) m[i][j] += kFromYiq[i][k] * rotated[k][j];
      }
    }
    color.Then(m, zero);
  }
  if (p.pca_noise > 0) {  // LightingAug: (eigvec * alpha) . eigval.
    double alpha[3];
    for (double& a : alpha) a = Normal(rng, 0, p.pca_noise);
    for (int c = 0; c < 3; ++c) {
      for (int j = 0; j < 3; ++j) {
        color.offset[c] +=
            kPcaEigenvectors[c][j] * alpha[j] * kPcaEigenvalues[j];
      }
    }
  }
  if (p.rand_gray > 0 && UniformFloat(rng, 0, 1) < p.rand_gray) {
    const double m[3][3] = {{kGrayMix[0], kGrayMix[1], kGrayMix[2]},
                            {kGrayMix[0], kGrayMix[1], kGrayMix[2]},
                            {kGrayMix[0], kGrayMix[1], kGrayMix[2]}};
    color.Then(m, zero);
  }
  if (!p.mean.empty() || !p.std.empty()) {  // ColorNormalizeAug.
    double m[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    double add[3] = {0, 0, 0};
    for (int c = 0; c < 3; ++c) {
      const double mean =
          p.mean.empty() ? 0 : p.mean[p.mean.size() == 1 ? 0 : c];
      const double std = p.std.empty() ? 1 : p.std[p.std.size() == 1 ? 0 : c];
      m[c][c] = 1 / std;
      add[c] = -mean / std;
    }
    color.Then(m, add);
  }
  WriteChw(image, flip, color, out.data());
  return absl::OkStatus();
}

}  // namespace iterd::image
