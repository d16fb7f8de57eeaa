// File: common/image/augment/image_iter_augmenter.h
//
// ImageIterAugmenter: the augmenter list mx.image.CreateAugmenter builds for
// ImageIter (reference §11.4), in its order: ResizeAug (shorter edge), one
// crop (RandomSizedCropAug / RandomCropAug / CenterCropAug), HorizontalFlipAug,
// CastAug, ColorJitterAug (random order), HueJitterAug, LightingAug,
// RandomGrayAug, ColorNormalizeAug; output float32 CHW RGB.
//
// Every step after the cast is an affine map of the RGB vector of a pixel
// (contrast's offset depends only on the image mean, itself an affine image of
// the crop's mean), so the steps are composed into one 3x3 matrix plus offset
// and applied in a single pass while writing the output: the same values as
// applying them one by one, up to float rounding, without temporaries.
// Random draws follow the Python order (Python's `random` becomes the
// caller's Engine; exact Python streams are not a goal).
//
// Thread-safety: immutable after Create; Apply is const and may run on many
// threads at once, each with its own Engine. Copyable.

#ifndef ITERD_COMMON_IMAGE_AUGMENT_IMAGE_ITER_AUGMENTER_H_
#define ITERD_COMMON_IMAGE_AUGMENT_IMAGE_ITER_AUGMENTER_H_

#include <opencv2/core.hpp>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/random/engine.h"

namespace iterd::image {

// mx.image.CreateAugmenter's arguments with MXNet's defaults. mean=True /
// std=True are the caller's to expand to ImageNet's values (§11.4).
struct ImageIterAugmenterParams {
  int out_height = 0, out_width = 0;  // data_shape H, W (required, > 0).
  int resize = 0;                     // Shorter edge; <= 0 is off.
  bool rand_crop = false;
  bool rand_resize = false;  // Requires rand_crop.
  bool rand_mirror = false;
  std::vector<float> mean, std;  // Empty (off), 1 or 3 values (RGB).
  float brightness = 0, contrast = 0, saturation = 0, hue = 0, pca_noise = 0,
        rand_gray = 0;
  int inter_method = 2;
};

class ImageIterAugmenter final {
 public:
  // InvalidArgument naming the field: out sizes <= 0, rand_resize without
  // rand_crop, mean/std not of 0, 1 or 3 values, a zero std, inter_method
  // outside {0..4, 9, 10}, negative strengths, rand_gray outside [0, 1].
  static absl::StatusOr<ImageIterAugmenter> Create(
      const ImageIterAugmenterParams& params);

  // The CreateAugmenter list of §11.4 in order, on an RGB uint8 HWC image;
  // writes the float32 CHW result (3 x out_height x out_width) to `out`.
  // InvalidArgument for an empty or non-RGB-uint8 image, a wrong-sized
  // `out`, or an image too thin to crop. Does not modify `rgb`.
  absl::Status Apply(const cv::Mat& rgb, random::Engine* rng,
                     absl::Span<float> out) const;

  const ImageIterAugmenterParams& params() const { return params_; }

 private:
  explicit ImageIterAugmenter(const ImageIterAugmenterParams& params)
      : params_(params) {}

  // Steps 1-2: resize and crop; *image is then out_height x out_width.
  absl::Status ResizeAndCrop(const cv::Mat& rgb, random::Engine* rng,
                             cv::Mat* image) const;

  ImageIterAugmenterParams params_;
};

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_AUGMENT_IMAGE_ITER_AUGMENTER_H_
