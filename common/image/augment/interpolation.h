// File: common/image/augment/interpolation.h
//
// MXNet's interpolation codes (0 nearest, 1 bilinear, 2 bicubic, 3 area,
// 4 Lanczos, 9 auto, 10 random) resolved to OpenCV flags, and a resize that
// reports OpenCV failures as absl::Status. Internal to //common/image/augment.
//
// Thread-compatibility: free functions; the Engine is the caller's.

#ifndef ITERD_COMMON_IMAGE_AUGMENT_INTERPOLATION_H_
#define ITERD_COMMON_IMAGE_AUGMENT_INTERPOLATION_H_

#include <cstdint>
#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "common/random/engine.h"

namespace iterd::image {

inline constexpr int kInterAuto = 9;
inline constexpr int kInterRandom = 10;

// True for the codes MXNet accepts: 0..4, 9, 10.
bool IsValidInterMethod(int inter_method);

// The cv::InterpolationFlags value for resizing `from` to `to`.
// 9 (auto, reference §10.1): bicubic if both sides grow, area if both shrink,
// else bilinear. 10: one uniform draw among 0..4 (the only code that draws).
// REQUIRES: IsValidInterMethod(inter_method).
int InterpolationFlag(int inter_method, cv::Size from, cv::Size to,
                      random::Engine* rng);

// Most pixels an image may have at any augmentation step (resize, affine
// output, pad): 2^28, about 16384x16384, 1 GB with 4 channels. A config's
// ranges bound each step, but an extreme aspect ratio (an image 1 pixel
// high resized to a shorter edge of 1000) is the image's doing: it is a bad
// record, not an allocation of that size.
inline constexpr int64_t kMaxAugmentPixels = int64_t{1} << 28;

// InvalidArgument "augmenting would make a WxH image, more than N pixels"
// for a size above kMaxAugmentPixels (or negative).
absl::Status CheckAugmentSize(cv::Size size);

// cv::resize(src, *dst, size, 0, 0, InterpolationFlag(...)). `dst` may alias
// `src` (the result is always a new buffer). InvalidArgument for an empty
// source or target size or one over kMaxAugmentPixels, Internal if OpenCV
// throws (its text is not in the message).
absl::Status ResizeImage(const cv::Mat& src, cv::Size size, int inter_method,
                         random::Engine* rng, cv::Mat* dst);

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_AUGMENT_INTERPOLATION_H_
