#include "common/image/augment/interpolation.h"

#include <cstdint>
#include <exception>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "common/image/augment/random_draws.h"
#include "common/status/status_macros.h"

namespace iterd::image {

bool IsValidInterMethod(int inter_method) {
  return (inter_method >= 0 && inter_method <= 4) ||
         inter_method == kInterAuto || inter_method == kInterRandom;
}

int InterpolationFlag(int inter_method, cv::Size from, cv::Size to,
                      random::Engine* rng) {
  if (inter_method == kInterAuto) {
    if (to.width > from.width && to.height > from.height) {
      return cv::INTER_CUBIC;
    }
    if (to.width < from.width && to.height < from.height) {
      return cv::INTER_AREA;
    }
    return cv::INTER_LINEAR;
  }
  if (inter_method == kInterRandom)
    inter_method = UniformIntInclusive(rng, 0, 4);
  // MXNet's codes 0..4 are OpenCV's INTER_NEAREST..INTER_LANCZOS4 values.
  static_assert(cv::INTER_NEAREST == 0 && cv::INTER_LINEAR == 1 &&
                cv::INTER_CUBIC == 2 && cv::INTER_AREA == 3 &&
                cv::INTER_LANCZOS4 == 4);
  return inter_method;
}

absl::Status CheckAugmentSize(cv::Size size) {
  const int64_t pixels = static_cast<int64_t>(size.width) * size.height;
  if (size.width >= 0 && size.height >= 0 && pixels <= kMaxAugmentPixels) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("augmenting would make a ", size.width, "x", size.height,
                   " image, more than ", kMaxAugmentPixels, " pixels"));
}

absl::Status ResizeImage(const cv::Mat& src, cv::Size size, int inter_method,
                         random::Engine* rng, cv::Mat* dst) {
  if (src.empty() || size.width <= 0 || size.height <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resize a ", src.cols, "x", src.rows, " image to ",
                     size.width, "x", size.height));
  }
  ITERD_RETURN_IF_ERROR(CheckAugmentSize(size));
  const int flag = InterpolationFlag(inter_method, src.size(), size, rng);
  // A fresh destination: `dst` may share pixels with `src` (a crop of it),
  // and resizing into a same-sized buffer would overwrite the source.
  cv::Mat resized;
  try {
    cv::resize(src, resized, size, 0, 0, flag);
  } catch (const std::exception&) {  // OpenCV's text is not for clients.
    return absl::InternalError(absl::StrCat("cv::resize to ", size.width, "x",
                                            size.height, " failed"));
  }
  *dst = resized;
  return absl::OkStatus();
}

}  // namespace iterd::image
