// File: common/image/exif_orientation.h
//
// The EXIF orientation of a JPEG, and the rotation cv::imdecode applies for
// it. cv::imdecode turns images upright for IMREAD_COLOR and
// IMREAD_GRAYSCALE (not for IMREAD_UNCHANGED); the TurboJPEG path must do the
// same to return what MXNet's OpenCV decode returns.
//
// Pure functions; thread-safe. Nothing is retained from the inputs.

#ifndef ITERD_COMMON_IMAGE_EXIF_ORIENTATION_H_
#define ITERD_COMMON_IMAGE_EXIF_ORIENTATION_H_

#include <opencv2/core.hpp>

#include "absl/strings/string_view.h"

namespace iterd::image {

// The orientation tag (0x0112) of the first "Exif" APP1 segment before the
// scan: 1..8 as in the EXIF standard, 1 (upright) when there is none or the
// segment is malformed. Reads only within `jpeg`.
int JpegExifOrientation(absl::string_view jpeg);

// Flips/transposes `image` in place as OpenCV's ApplyExifOrientation does.
// Orientation 1 or an unknown value leaves it unchanged.
void ApplyExifOrientation(int orientation, cv::Mat* image);

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_EXIF_ORIENTATION_H_
