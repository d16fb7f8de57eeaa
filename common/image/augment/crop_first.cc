#include "common/image/augment/crop_first.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "common/image/jpeg_window_decoder.h"
#include "common/status/status_macros.h"

namespace iterd::image {
namespace {

// Bicubic reads pixels floor(x) - 1 .. floor(x) + 2; one more for warpAffine's
// rounding, one for libjpeg's fancy upsampling at a cropped strip's edge.
constexpr int kWindowMargin = 4;
// Below this share of the image the window pays for the extra planning.
constexpr double kMaxWindowShare = 0.9;

// cv::resize's scale: 1 / (double(dst) / src).
double ResizeScale(int source, int resized) {
  return 1.0 / (static_cast<double>(resized) / source);
}

}  // namespace

int CoveringDctScale(const JpegHeader& header, int short_edge) {
  for (int denominator : {8, 4, 2}) {
    if (std::min(JpegDecoder::ScaledDimension(header.width, denominator),
                 JpegDecoder::ScaledDimension(header.height, denominator)) >=
        short_edge) {
      return denominator;
    }
  }
  return 1;
}

cv::Rect CropSourceWindow(const CropPlan& plan) {
  const double scale_x = ResizeScale(plan.source.width, plan.resized.width);
  const double scale_y = ResizeScale(plan.source.height, plan.resized.height);
  const auto first = [](int dst, double scale) {
    return static_cast<int>(std::floor((dst + 0.5) * scale - 0.5));
  };
  const int left = std::max(0, first(plan.crop.x, scale_x) - kWindowMargin);
  const int top = std::max(0, first(plan.crop.y, scale_y) - kWindowMargin);
  const int right = std::min(
      plan.source.width,
      first(plan.crop.x + plan.crop.width - 1, scale_x) + kWindowMargin + 1);
  const int bottom = std::min(
      plan.source.height,
      first(plan.crop.y + plan.crop.height - 1, scale_y) + kWindowMargin + 1);
  return cv::Rect(left, top, right - left, bottom - top);
}

absl::Status ResizeWindowToCrop(const cv::Mat& window_pixels, cv::Rect window,
                                const CropPlan& plan, cv::Mat* crop) {
  if (window_pixels.cols != window.width ||
      window_pixels.rows != window.height) {
    return absl::InvalidArgumentError(absl::StrCat(
        "window pixels ", window_pixels.cols, "x", window_pixels.rows,
        " do not match the window ", window.width, "x", window.height));
  }
  const double scale_x = ResizeScale(plan.source.width, plan.resized.width);
  const double scale_y = ResizeScale(plan.source.height, plan.resized.height);
  // Destination (crop) pixel -> window pixel, as cv::resize maps resized
  // pixel (crop.x + j) to the source; warpAffine with BORDER_REPLICATE
  // clamps at the true image edges as cv::resize does, and the margin keeps
  // it off the window's inner edges.
  cv::Matx23d inverse(scale_x, 0,
                      (plan.crop.x + 0.5) * scale_x - 0.5 - window.x, 0,
                      scale_y, (plan.crop.y + 0.5) * scale_y - 0.5 - window.y);
  cv::Mat out;
  try {
    cv::warpAffine(window_pixels, out, inverse, plan.crop.size(),
                   plan.interpolation | cv::WARP_INVERSE_MAP,
                   cv::BORDER_REPLICATE);
  } catch (const std::exception&) {  // OpenCV's text is not for clients.
    return absl::InternalError(absl::StrCat("warpAffine to the ",
                                            plan.crop.width, "x",
                                            plan.crop.height, " crop failed"));
  }
  *crop = out;
  return absl::OkStatus();
}

absl::StatusOr<bool> DecodeAugmentCropFirst(
    absl::string_view jpeg, const JpegHeader& header, int scale_denominator,
    PixelOrder order, const DefaultAugmenter& augmenter, random::Engine* rng,
    cv::Mat* image) {
  const cv::Size source(
      JpegDecoder::ScaledDimension(header.width, scale_denominator),
      JpegDecoder::ScaledDimension(header.height, scale_denominator));
  const std::optional<cv::Size> resized = augmenter.CropPlanResizedSize(source);
  if (!resized.has_value()) return false;
  const auto& params = augmenter.params();
  // Decided before any draw, so a refusal leaves the random stream alone.
  if (static_cast<double>(params.out_width) * params.out_height >
      kMaxWindowShare * resized->width * resized->height) {
    return false;
  }
  const CropPlan plan = augmenter.PlanCrop(source, rng);
  const cv::Rect window = CropSourceWindow(plan);
  ITERD_ASSIGN_OR_RETURN(
      const cv::Mat window_pixels,
      DecodeJpegWindow(jpeg, order, scale_denominator, window));
  cv::Mat crop;
  ITERD_RETURN_IF_ERROR(ResizeWindowToCrop(window_pixels, window, plan, &crop));
  ITERD_RETURN_IF_ERROR(augmenter.ApplyAfterCrop(&crop, rng));
  *image = crop;
  return true;
}

}  // namespace iterd::image
