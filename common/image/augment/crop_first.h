// File: common/image/augment/crop_first.h
//
// Crop-first decoding for ImageRecordIter's plain resize -> crop chain: plan
// the crop from the JPEG header's size (DefaultAugmenter::PlanCrop, the same
// draws in the same order as Apply), decode only the source rectangle that
// maps onto the crop (DecodeJpegWindow: rows skipped, columns cropped, DCT
// scale as the full path), and resample that window straight to the crop
// with the resize's own coordinate mapping (src = (dst + 0.5) * scale - 0.5,
// edges replicated). Pixels differ from resize-then-crop only by fixed-point
// rounding (warpAffine's 1/32-pixel grid against cv::resize's coefficients):
// mean abs difference well under one grey level (crop_first_test).
//
// Thread-safe free functions; the Engine is the caller's.

#ifndef ITERD_COMMON_IMAGE_AUGMENT_CROP_FIRST_H_
#define ITERD_COMMON_IMAGE_AUGMENT_CROP_FIRST_H_

#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/image/augment/default_augmenter.h"
#include "common/image/jpeg_decoder.h"
#include "common/random/engine.h"

namespace iterd::image {

// The rectangle of plan.source whose pixels the resize samples for
// plan.crop, widened by a margin for the interpolation kernel (and libjpeg's
// upsampling at a cropped strip's edges), clamped to the image.
cv::Rect CropSourceWindow(const CropPlan& plan);

// Resamples `window_pixels` (the rectangle `window` of the plan.source-sized
// image) onto plan.crop as cv::resize of the whole image to plan.resized and
// the crop would. InvalidArgument if the window does not match.
absl::Status ResizeWindowToCrop(const cv::Mat& window_pixels, cv::Rect window,
                                const CropPlan& plan, cv::Mat* crop);

// Decodes `jpeg` (header already read; decoded at 1/`scale_denominator`) and
// runs `augmenter` crop-first. Returns false, drawing nothing and leaving
// *image alone, when the augmenter's chain or the image size does not
// qualify (DefaultAugmenter::CanPlanCrop) or the window would not be much
// smaller than the image: the caller then takes the full path. On true,
// *image is the augmented out_height x out_width crop (BGR or gray as
// `order`). InvalidArgument for undecodable bytes.
absl::StatusOr<bool> DecodeAugmentCropFirst(
    absl::string_view jpeg, const JpegHeader& header, int scale_denominator,
    PixelOrder order, const DefaultAugmenter& augmenter, random::Engine* rng,
    cv::Mat* image);

// The largest DCT scale (8, 4, 2, else 1) whose shorter edge still covers
// `short_edge` (the rule of ImageRecordSource's JPEG fast path).
int CoveringDctScale(const JpegHeader& header, int short_edge);

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_AUGMENT_CROP_FIRST_H_
