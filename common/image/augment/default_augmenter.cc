#include "common/image/augment/default_augmenter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "common/image/augment/color_ops.h"
#include "common/image/augment/interpolation.h"
#include "common/image/augment/random_draws.h"
#include "common/status/status_macros.h"

namespace iterd::image {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

absl::Status CheckRange(absl::string_view min_field, float min_value,
                        absl::string_view max_field, float max_value) {
  if (min_value > max_value) {
    return FieldError(min_field, absl::StrCat(min_value, " is greater than ",
                                              max_field, " ", max_value));
  }
  return absl::OkStatus();
}

absl::Status CheckNonNegative(absl::string_view field, double value) {
  if (value < 0) return FieldError(field, absl::StrCat(value, " is negative"));
  return absl::OkStatus();
}

absl::Status ValidateCrops(const DefaultAugmenterParams& p) {
  if (p.random_resized_crop) {
    // MXNet CHECK-fails on these combinations; name the conflicting field.
    if (p.rand_crop) {
      return FieldError("rand_crop", "conflicts with random_resized_crop");
    }
    if (p.max_crop_size != -1 || p.min_crop_size != -1) {
      return FieldError(
          p.max_crop_size != -1 ? "max_crop_size" : "min_crop_size",
          "conflicts with random_resized_crop");
    }
    if (p.min_random_scale != 1 || p.max_random_scale != 1) {
      return FieldError(
          p.min_random_scale != 1 ? "min_random_scale" : "max_random_scale",
          "conflicts with random_resized_crop");
    }
    if (p.min_random_area <= 0) {
      return FieldError("min_random_area",
                        absl::StrCat(p.min_random_area, " must be > 0"));
    }
    ITERD_RETURN_IF_ERROR(CheckRange("min_random_area", p.min_random_area,
                                     "max_random_area", p.max_random_area));
  }
  if (p.max_crop_size != -1 || p.min_crop_size != -1) {
    // MXNet draws the side from [min, max]; with one of them left at -1 that
    // range includes sizes that cannot be cropped.
    if (p.min_crop_size < 1) {
      return FieldError("min_crop_size",
                        absl::StrCat(p.min_crop_size,
                                     " must be >= 1 when crop sizes are set"));
    }
    if (p.max_crop_size < p.min_crop_size) {
      return FieldError("max_crop_size", absl::StrCat(p.max_crop_size,
                                                      " is less than "
                                                      "min_crop_size ",
                                                      p.min_crop_size));
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const DefaultAugmenterParams& p, float aspect_min,
                      float aspect_max) {
  if (p.out_height <= 0 || p.out_width <= 0) {
    return FieldError("data_shape",
                      absl::StrCat("output size ", p.out_height, "x",
                                   p.out_width, " must be positive"));
  }
  if (!IsValidInterMethod(p.inter_method)) {
    return FieldError(
        "inter_method",
        absl::StrCat(p.inter_method, " is not one of 0, 1, 2, 3, 4, 9, 10"));
  }
  ITERD_RETURN_IF_ERROR(
      CheckNonNegative("max_rotate_angle", p.max_rotate_angle));
  ITERD_RETURN_IF_ERROR(CheckNonNegative("max_shear_ratio", p.max_shear_ratio));
  ITERD_RETURN_IF_ERROR(CheckNonNegative("brightness", p.brightness));
  ITERD_RETURN_IF_ERROR(CheckNonNegative("contrast", p.contrast));
  ITERD_RETURN_IF_ERROR(CheckNonNegative("saturation", p.saturation));
  ITERD_RETURN_IF_ERROR(CheckNonNegative("pca_noise", p.pca_noise));
  ITERD_RETURN_IF_ERROR(CheckNonNegative("random_h", p.random_h));
  ITERD_RETURN_IF_ERROR(CheckNonNegative("random_s", p.random_s));
  ITERD_RETURN_IF_ERROR(CheckNonNegative("random_l", p.random_l));
  ITERD_RETURN_IF_ERROR(CheckNonNegative("pad", p.pad));
  ITERD_RETURN_IF_ERROR(CheckNonNegative("min_img_size", p.min_img_size));
  if (p.fill_value < 0 || p.fill_value > 255) {
    return FieldError("fill_value",
                      absl::StrCat(p.fill_value, " is outside 0..255"));
  }
  if (p.min_random_scale <= 0) {
    return FieldError("min_random_scale",
                      absl::StrCat(p.min_random_scale, " must be > 0"));
  }
  ITERD_RETURN_IF_ERROR(CheckRange("min_random_scale", p.min_random_scale,
                                   "max_random_scale", p.max_random_scale));
  ITERD_RETURN_IF_ERROR(CheckRange("min_random_area", p.min_random_area,
                                   "max_random_area", p.max_random_area));
  ITERD_RETURN_IF_ERROR(CheckRange("min_img_size", p.min_img_size,
                                   "max_img_size", p.max_img_size));
  const char* aspect_field =
      p.min_aspect_ratio.has_value() ? "min_aspect_ratio" : "max_aspect_ratio";
  ITERD_RETURN_IF_ERROR(
      CheckRange(aspect_field, aspect_min, "the aspect maximum", aspect_max));
  if (aspect_min <= 0) {
    return FieldError(aspect_field,
                      absl::StrCat("aspect range [", aspect_min, ", ",
                                   aspect_max, "] must be positive"));
  }
  return ValidateCrops(p);
}

}  // namespace

DefaultAugmenter::DefaultAugmenter(const DefaultAugmenterParams& params,
                                   float aspect_min, float aspect_max)
    : params_(params), aspect_min_(aspect_min), aspect_max_(aspect_max) {}

absl::StatusOr<DefaultAugmenter> DefaultAugmenter::Create(
    const DefaultAugmenterParams& params) {
  const float aspect_min = params.min_aspect_ratio.has_value()
                               ? *params.min_aspect_ratio
                               : 1 - params.max_aspect_ratio;
  const float aspect_max = params.min_aspect_ratio.has_value()
                               ? params.max_aspect_ratio
                               : 1 + params.max_aspect_ratio;
  ITERD_RETURN_IF_ERROR(Validate(params, aspect_min, aspect_max));
  DefaultAugmenter augmenter(params, aspect_min, aspect_max);
  // With a fixed resize and no affine step every image reaches the crop with
  // a known shorter edge; a larger crop square can never fit.
  const int short_edge = augmenter.planned_short_edge();
  if (short_edge > 0 && params.max_crop_size > short_edge + 2 * params.pad) {
    return FieldError(
        "max_crop_size",
        absl::StrCat(params.max_crop_size, " exceeds the resized shorter edge ",
                     short_edge + 2 * params.pad));
  }
  return augmenter;
}

bool DefaultAugmenter::AffineEnabled() const {
  const DefaultAugmenterParams& p = params_;
  const bool aspect_trivial = aspect_min_ == 1 && aspect_max_ == 1;
  return p.max_rotate_angle > 0 || p.max_shear_ratio > 0 || p.rotate > 0 ||
         !p.rotate_list.empty() || p.max_random_scale != 1 ||
         p.min_random_scale != 1 ||
         (!aspect_trivial && !p.random_resized_crop) ||
         p.max_img_size != 1e10f || p.min_img_size != 0;
}

bool DefaultAugmenter::RandomResizedCropEnabled() const {
  const DefaultAugmenterParams& p = params_;
  return p.random_resized_crop &&
         (p.min_random_area != 1 || p.max_random_area != 1 ||
          aspect_min_ != 1 || aspect_max_ != 1);
}

int DefaultAugmenter::planned_short_edge() const {
  if (params_.resize <= 0 || AffineEnabled() || RandomResizedCropEnabled()) {
    return -1;
  }
  return params_.resize;
}

absl::Status DefaultAugmenter::Apply(cv::Mat* image,
                                     random::Engine* rng) const {
  if (image->empty() || image->depth() != CV_8U ||
      (image->channels() != 1 && image->channels() != 3 &&
       image->channels() != 4)) {
    return absl::InvalidArgumentError(
        absl::StrCat("augmenter input must be a non-empty 8-bit image with 1, "
                     "3 or 4 channels; got ",
                     image->cols, "x", image->rows, " type ", image->type()));
  }
  const DefaultAugmenterParams& p = params_;
  if (p.resize > 0) ITERD_RETURN_IF_ERROR(Resize(image, rng));
  if (AffineEnabled()) ITERD_RETURN_IF_ERROR(Affine(image, rng));
  if (p.pad > 0) {
    cv::Mat padded;
    try {
      cv::copyMakeBorder(*image, padded, p.pad, p.pad, p.pad, p.pad,
                         cv::BORDER_CONSTANT, cv::Scalar::all(p.fill_value));
    } catch (const std::exception&) {  // OpenCV's text is not for clients.
      return absl::InternalError(absl::StrCat("pad of ", p.pad, " failed"));
    }
    *image = padded;
  }
  bool cropped = false;
  if (RandomResizedCropEnabled()) {
    ITERD_ASSIGN_OR_RETURN(cropped, RandomResizedCrop(image, rng));
  } else if (!p.random_resized_crop &&
             (p.max_crop_size != -1 || p.min_crop_size != -1)) {
    ITERD_RETURN_IF_ERROR(SizedCrop(image, rng));
    cropped = true;
  }
  if (!cropped) ITERD_RETURN_IF_ERROR(OutputCrop(image, rng));
  return ApplyAfterCrop(image, rng);
}

absl::Status DefaultAugmenter::ApplyAfterCrop(cv::Mat* image,
                                              random::Engine* rng) const {
  const DefaultAugmenterParams& p = params_;
  if (p.brightness > 0 || p.contrast > 0 || p.saturation > 0) {
    ApplyColorJitter(p.brightness, p.contrast, p.saturation, rng, image);
  }
  if (p.random_h != 0 || p.random_s != 0 || p.random_l != 0) {
    ITERD_RETURN_IF_ERROR(
        ApplyHlsJitter(p.random_h, p.random_s, p.random_l, rng, image));
  }
  if (p.pca_noise > 0) ApplyPcaNoise(p.pca_noise, rng, image);
  return absl::OkStatus();
}

std::optional<cv::Size> DefaultAugmenter::CropPlanResizedSize(
    cv::Size source) const {
  const DefaultAugmenterParams& p = params_;
  if (planned_short_edge() <= 0 || p.pad > 0 ||
      (!p.random_resized_crop &&
       (p.max_crop_size != -1 || p.min_crop_size != -1)) ||
      source.width < 1 || source.height < 1) {
    return std::nullopt;
  }
  const cv::Size resized = ResizedSize(source);
  // OutputCrop's upsizing would be a second resize.
  if (resized.width < p.out_width || resized.height < p.out_height) {
    return std::nullopt;
  }
  // kInterRandom draws, and nearest, area and Lanczos do not map onto a
  // window with warpAffine; those keep the full path.
  if (p.inter_method == kInterRandom) return std::nullopt;
  const int flag = InterpolationFlag(p.inter_method, source, resized, nullptr);
  if (flag != cv::INTER_LINEAR && flag != cv::INTER_CUBIC) return std::nullopt;
  return resized;
}

CropPlan DefaultAugmenter::PlanCrop(cv::Size source,
                                    random::Engine* rng) const {
  CropPlan plan;
  plan.source = source;
  plan.resized = ResizedSize(source);
  // As Resize (ResizeImage draws the kernel) then OutputCrop.
  plan.interpolation =
      InterpolationFlag(params_.inter_method, source, plan.resized, rng);
  const cv::Point corner =
      CropCorner(plan.resized.height, plan.resized.width, rng);
  plan.crop =
      cv::Rect(corner.x, corner.y, params_.out_width, params_.out_height);
  return plan;
}

absl::Status DefaultAugmenter::Resize(cv::Mat* image,
                                      random::Engine* rng) const {
  return ResizeImage(*image, ResizedSize(image->size()), params_.inter_method,
                     rng, image);
}

cv::Size DefaultAugmenter::ResizedSize(cv::Size source) const {
  // Integer division as MXNet: 500x375 (WxH), resize 256 -> 341x256.
  const int64_t rows = source.height, cols = source.width,
                resize = params_.resize;
  if (rows > cols)
    return cv::Size(resize, static_cast<int>(resize * rows / cols));
  return cv::Size(static_cast<int>(resize * cols / rows), resize);
}

absl::Status DefaultAugmenter::Affine(cv::Mat* image,
                                      random::Engine* rng) const {
  const DefaultAugmenterParams& p = params_;
  // Draw order: shear, angle, scale, ratio (scale and ratio are fixed at 1,
  // undrawn, under random_resized_crop, which does its own zoom).
  const float s =
      UniformFloat(rng, 0, 1) * p.max_shear_ratio * 2 - p.max_shear_ratio;
  int angle = UniformIntInclusive(rng, -p.max_rotate_angle, p.max_rotate_angle);
  if (p.rotate > 0) angle = p.rotate;
  if (!p.rotate_list.empty()) {
    const int last = static_cast<int>(p.rotate_list.size()) - 1;
    angle = p.rotate_list[UniformIntInclusive(rng, 0, last)];
  }
  float scale = 1, ratio = 1;
  if (!p.random_resized_crop) {
    scale =
        UniformFloat(rng, 0, 1) * (p.max_random_scale - p.min_random_scale) +
        p.min_random_scale;
    ratio = UniformFloat(rng, 0, 1) * (aspect_max_ - aspect_min_) + aspect_min_;
  }
  const float a = static_cast<float>(std::cos(angle / 180.0 * M_PI));
  const float b = static_cast<float>(std::sin(angle / 180.0 * M_PI));
  const float hs = 2 * scale / (1 + ratio);
  const float ws = ratio * hs;
  const float width = image->cols, height = image->rows;
  const float new_width =
      std::max(p.min_img_size, std::min(p.max_img_size, scale * width));
  const float new_height =
      std::max(p.min_img_size, std::min(p.max_img_size, scale * height));
  const cv::Size size(static_cast<int>(new_width),
                      static_cast<int>(new_height));
  if (size.width < 1 || size.height < 1) {
    return FieldError("max_img_size",
                      absl::StrCat("affine output ", new_width, "x", new_height,
                                   " is empty"));
  }
  ITERD_RETURN_IF_ERROR(CheckAugmentSize(size));
  cv::Mat matrix(2, 3, CV_32F);
  matrix.at<float>(0, 0) = hs * a - s * b * ws;
  matrix.at<float>(1, 0) = -b * ws;
  matrix.at<float>(0, 1) = hs * b + s * a * ws;
  matrix.at<float>(1, 1) = a * ws;
  const float center_x =
      matrix.at<float>(0, 0) * width + matrix.at<float>(0, 1) * height;
  const float center_y =
      matrix.at<float>(1, 0) * width + matrix.at<float>(1, 1) * height;
  matrix.at<float>(0, 2) = (new_width - center_x) / 2;
  matrix.at<float>(1, 2) = (new_height - center_y) / 2;
  const int flag = InterpolationFlag(p.inter_method, image->size(), size, rng);
  cv::Mat warped;
  try {
    cv::warpAffine(*image, warped, matrix, size, flag, cv::BORDER_CONSTANT,
                   cv::Scalar::all(p.fill_value));
  } catch (const std::exception&) {  // OpenCV's text is not for clients.
    return absl::InternalError(absl::StrCat("warpAffine to ", size.width, "x",
                                            size.height, " failed"));
  }
  *image = warped;
  return absl::OkStatus();
}

absl::StatusOr<bool> DefaultAugmenter::RandomResizedCrop(
    cv::Mat* image, random::Engine* rng) const {
  const DefaultAugmenterParams& p = params_;
  const float area = static_cast<float>(image->rows) * image->cols;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const float fraction =
        UniformFloat(rng, p.min_random_area, p.max_random_area);
    const float ratio = UniformFloat(rng, aspect_min_, aspect_max_);
    const float target = area * fraction;
    int crop_h = static_cast<int>(std::round(std::sqrt(target / ratio)));
    int crop_w = static_cast<int>(std::round(std::sqrt(target * ratio)));
    if (UniformFloat(rng, 0, 1) < 0.5f) std::swap(crop_h, crop_w);
    if (crop_h < 1 || crop_w < 1) continue;
    if (crop_h <= image->rows && crop_w <= image->cols) {
      const int y = UniformIntInclusive(rng, 0, image->rows - crop_h);
      const int x = UniformIntInclusive(rng, 0, image->cols - crop_w);
      const cv::Mat roi = (*image)(cv::Rect(x, y, crop_w, crop_h));
      ITERD_RETURN_IF_ERROR(ResizeImage(roi,
                                        cv::Size(p.out_width, p.out_height),
                                        p.inter_method, rng, image));
      return true;
    }
  }
  return false;
}

absl::Status DefaultAugmenter::SizedCrop(cv::Mat* image,
                                         random::Engine* rng) const {
  const DefaultAugmenterParams& p = params_;
  if (image->cols < p.max_crop_size || image->rows < p.max_crop_size) {
    return FieldError(
        "max_crop_size",
        absl::StrCat(p.max_crop_size, " exceeds the image size ", image->cols,
                     "x", image->rows, " at the crop step"));
  }
  const int side = UniformIntInclusive(rng, p.min_crop_size, p.max_crop_size);
  int y = image->rows - side;
  int x = image->cols - side;
  if (p.rand_crop) {
    y = UniformIntInclusive(rng, 0, y);
    x = UniformIntInclusive(rng, 0, x);
  } else {
    y /= 2;
    x /= 2;
  }
  const cv::Mat roi = (*image)(cv::Rect(x, y, side, side));
  return ResizeImage(roi, cv::Size(p.out_width, p.out_height), p.inter_method,
                     rng, image);
}

absl::Status DefaultAugmenter::OutputCrop(cv::Mat* image,
                                          random::Engine* rng) const {
  const int out_h = params_.out_height, out_w = params_.out_width;
  // Upsize (aspect kept, float arithmetic truncated as MXNet) when a side is
  // smaller than the output.
  if (image->rows < out_h) {
    const int cols =
        static_cast<int>(static_cast<float>(out_h) / image->rows * image->cols);
    ITERD_RETURN_IF_ERROR(ResizeImage(*image, cv::Size(cols, out_h),
                                      params_.inter_method, rng, image));
  }
  if (image->cols < out_w) {
    const int rows =
        static_cast<int>(static_cast<float>(out_w) / image->cols * image->rows);
    ITERD_RETURN_IF_ERROR(ResizeImage(*image, cv::Size(out_w, rows),
                                      params_.inter_method, rng, image));
  }
  if (image->rows < out_h || image->cols < out_w) {
    return absl::InternalError(absl::StrCat("upsized image ", image->cols, "x",
                                            image->rows, " is smaller than ",
                                            out_w, "x", out_h));
  }
  const cv::Point corner = CropCorner(image->rows, image->cols, rng);
  *image = (*image)(cv::Rect(corner.x, corner.y, out_w, out_h));
  return absl::OkStatus();
}

cv::Point DefaultAugmenter::CropCorner(int rows, int cols,
                                       random::Engine* rng) const {
  int y = rows - params_.out_height;
  int x = cols - params_.out_width;
  if (params_.rand_crop) {
    y = UniformIntInclusive(rng, 0, y);
    x = UniformIntInclusive(rng, 0, x);
  } else {
    y /= 2;  // 341x256 -> 224x224 at x = 58, y = 16.
    x /= 2;
  }
  return cv::Point(x, y);
}

}  // namespace iterd::image
