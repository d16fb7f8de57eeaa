// File: common/image/augment/default_augmenter.h
//
// DefaultAugmenter: ImageRecordIter's `aug_default` (reference §10.2 steps
// 4-10): resize, affine (rotate/shear/scale/aspect), pad, crop, colour
// jitter, HLS jitter, PCA noise, with MXNet's formulas and draw order.
// Randomness comes from the caller's random::Engine (seeded per sample from
// (seed, epoch, index)); exact MXNet random streams are not a goal, the
// distributions and ranges are. CropPlanResizedSize/PlanCrop/ApplyAfterCrop
// split Apply for crop-first JPEG decoding (crop_first.h) with the same draws.
//
// Thread-safety: immutable after Create; Apply is const and may run on many
// threads at once (each with its own Engine and image). Copyable.
//
//   ITERD_ASSIGN_OR_RETURN(DefaultAugmenter augmenter,
//                          DefaultAugmenter::Create(params));
//   cv::Mat image = ...;  // decoded BGR
//   ITERD_RETURN_IF_ERROR(augmenter.Apply(&image, &rng));

#ifndef ITERD_COMMON_IMAGE_AUGMENT_DEFAULT_AUGMENTER_H_
#define ITERD_COMMON_IMAGE_AUGMENT_DEFAULT_AUGMENTER_H_

#include <opencv2/core.hpp>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/random/engine.h"

namespace iterd::image {

// ImageRecordIter's aug_default parameters with MXNet's defaults (§10.1).
struct DefaultAugmenterParams {
  int out_height = 0, out_width = 0;  // data_shape H, W (required, > 0).
  int resize = -1;                    // Shorter edge; <= 0 is off (MXNet's -1).
  bool rand_crop = false;
  bool random_resized_crop = false;
  int max_rotate_angle = 0;
  int rotate = -1;
  std::vector<int> rotate_list;
  float max_aspect_ratio = 0;
  std::optional<float> min_aspect_ratio;
  float max_shear_ratio = 0;
  int max_crop_size = -1, min_crop_size = -1;
  float max_random_scale = 1, min_random_scale = 1;
  float max_random_area = 1, min_random_area = 1;
  float max_img_size = 1e10f, min_img_size = 0;
  float brightness = 0, contrast = 0, saturation = 0, pca_noise = 0;
  int random_h = 0, random_s = 0, random_l = 0;
  int fill_value = 255;
  int inter_method = 1;
  int pad = 0;
};

// The resize and crop steps of Apply, planned for an image of `source` size
// without touching pixels (crop-first decoding; see crop_first.h).
struct CropPlan {
  cv::Size source;        // The decoded image's size.
  cv::Size resized;       // The resize step's output size.
  cv::Rect crop;          // The output crop, in resized coordinates.
  int interpolation = 1;  // The resize's cv::InterpolationFlags value.
};

class DefaultAugmenter final {
 public:
  // Validates `params`: InvalidArgument naming the field for
  // random_resized_crop with rand_crop, crop sizes or a random scale; an
  // inter_method outside {0..4, 9, 10}; a min above its max; out sizes <= 0;
  // crop sizes that cannot work; negative strengths; fill_value outside
  // 0..255.
  static absl::StatusOr<DefaultAugmenter> Create(
      const DefaultAugmenterParams& params);

  // Steps 4-10 of reference §10.2 on a decoded 8-bit BGR/BGRA/gray image;
  // afterwards *image is out_height x out_width with the same channels. The
  // result may be a view into a buffer the input shared (pixels are modified
  // in place by the colour steps). InvalidArgument for an empty or non-8-bit
  // image, or one too small for the crop sizes (message names the field).
  absl::Status Apply(cv::Mat* image, random::Engine* rng) const;

  // The shorter-edge size the image is resized to before cropping when that
  // is known without drawing randomness (resize > 0 and no affine or
  // random-resized-crop step), else -1: lets the source decode JPEGs at a
  // reduced DCT scale that still covers it.
  int planned_short_edge() const;

  // Crop-first planning. The resized size when Apply on a `source`-sized
  // image would be exactly: resize (to a size covering the output, with a
  // bilinear or bicubic kernel known without a draw), output crop, then the
  // colour steps (no affine, pad, sized or random-resized crop); else
  // nullopt. Draws nothing.
  std::optional<cv::Size> CropPlanResizedSize(cv::Size source) const;

  // Draws what Apply's resize and crop steps draw, in the same order, and
  // returns where the crop lands. REQUIRES: CropPlanResizedSize(source).
  CropPlan PlanCrop(cv::Size source, random::Engine* rng) const;

  // Apply's steps after the crop (colour, HLS, PCA noise) on the
  // out_height x out_width crop.
  absl::Status ApplyAfterCrop(cv::Mat* image, random::Engine* rng) const;

  const DefaultAugmenterParams& params() const { return params_; }

 private:
  DefaultAugmenter(const DefaultAugmenterParams& params, float aspect_min,
                   float aspect_max);

  bool AffineEnabled() const;
  bool RandomResizedCropEnabled() const;
  absl::Status Resize(cv::Mat* image, random::Engine* rng) const;
  absl::Status Affine(cv::Mat* image, random::Engine* rng) const;
  // Returns whether the random-resized crop took (else the default crop runs).
  absl::StatusOr<bool> RandomResizedCrop(cv::Mat* image,
                                         random::Engine* rng) const;
  absl::Status SizedCrop(cv::Mat* image, random::Engine* rng) const;
  absl::Status OutputCrop(cv::Mat* image, random::Engine* rng) const;
  // OutputCrop's draw of the crop's corner in a rows x cols image.
  cv::Point CropCorner(int rows, int cols, random::Engine* rng) const;
  cv::Size ResizedSize(cv::Size source) const;

  DefaultAugmenterParams params_;
  // The aspect range of §10.1: [min, max] if min_aspect_ratio is given, else
  // [1 - max_aspect_ratio, 1 + max_aspect_ratio].
  float aspect_min_;
  float aspect_max_;
};

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_AUGMENT_DEFAULT_AUGMENTER_H_
