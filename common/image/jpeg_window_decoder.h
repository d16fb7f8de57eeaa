// File: common/image/jpeg_window_decoder.h
//
// DecodeJpegWindow: decodes only a rectangle of a JPEG (optionally DCT-scaled
// by 1/2, 1/4 or 1/8) through libjpeg-turbo's own API: jpeg_crop_scanline
// narrows the decoded columns (to iMCU boundaries, so the strip is cropped
// exactly afterwards, as a view), jpeg_skip_scanlines skips the rows above,
// and decoding stops after the window's last row. The training pipeline's
// random 224 crop of a 256-resized image needs about half the pixels, and
// decoding is most of its cost (docs/benchmarks.md, "Design facts").
//
// libjpeg reports fatal errors through longjmp; that stays inside one
// C-style function of the .cc whose frame holds no object with a destructor.
// Warnings (a truncated scan, whose missing rows come out grey) are not
// errors, as with JpegDecoder and cv::imdecode.
//
// Thread-safe: a free function; every call has its own libjpeg state. The
// result owns its pixels (a view into a buffer it shares with nothing else).

#ifndef ITERD_COMMON_IMAGE_JPEG_WINDOW_DECODER_H_
#define ITERD_COMMON_IMAGE_JPEG_WINDOW_DECODER_H_

#include <cstdint>
#include <opencv2/core.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/image/jpeg_decoder.h"

namespace iterd::image {

// Decodes `window` (in the coordinates of the image scaled by
// 1/`scale_denominator`, whose size is JpegDecoder::ScaledDimension of the
// header's) of `jpeg` as `order` (kBgr: 3 channels in OpenCV's order; kRgb;
// kGray: 1 channel). Returns a window.height x window.width 8-bit image.
// InvalidArgument (with libjpeg's reason) for undecodable bytes, CMYK/YCCK
// input, a header declaring more than `max_pixels` pixels (full size: a
// progressive JPEG buffers all of them), a scale other than 1, 2, 4, 8, or a
// window outside the scaled image.
absl::StatusOr<cv::Mat> DecodeJpegWindow(absl::string_view jpeg,
                                         PixelOrder order,
                                         int scale_denominator, cv::Rect window,
                                         uint64_t max_pixels = uint64_t{1}
                                                               << 30);

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_JPEG_WINDOW_DECODER_H_
