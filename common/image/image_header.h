// File: common/image/image_header.h
//
// The pixel count an encoded image declares, read from its header alone, so
// that a decompression bomb (a few KB claiming 32768x32768) is refused before
// a decoder allocates for it. OpenCV's own cap (OPENCV_IO_MAX_IMAGE_PIXELS,
// 2^30) is read once when its library loads, cannot follow the daemon's
// config, and fails with an assertion text; this check is ours.
//
// Formats whose header is read: JPEG (SOF marker), PNG (IHDR), BMP, WebP
// (VP8, VP8L, VP8X), TIFF (first IFD), PNM (P1-P6). Any other format is
// refused by CheckDeclaredImageSize: its size cannot be known before
// decoding. Thread-safe free functions; nothing refers to the input after a
// call.

#ifndef ITERD_COMMON_IMAGE_IMAGE_HEADER_H_
#define ITERD_COMMON_IMAGE_IMAGE_HEADER_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace iterd::image {

// Decoded pixels per image when the daemon does not say otherwise: PIL's
// MAX_IMAGE_PIXELS (a 1024^3 / 4 / 3 byte budget), about 9459x9459; 268 MB
// as 8-bit RGB.
inline constexpr uint64_t kDefaultMaxImagePixels = 89478485;

struct DeclaredSize {
  uint64_t width = 0;
  uint64_t height = 0;
};

// The width and height in the header of `bytes`, for the formats above;
// nullopt when the format is not one of them or its header is cut short or
// unreadable (the decoder then words the error).
std::optional<DeclaredSize> ReadDeclaredSize(absl::string_view bytes);

// InvalidArgument "the header declares WxH = N pixels, more than the limit of
// M pixels (limits.max_image_pixels)" when width * height > `max_pixels`
// (overflow-safe).
absl::Status CheckPixelCount(uint64_t width, uint64_t height,
                             uint64_t max_pixels);

// OK when `bytes` is in a known format whose declared size is within
// `max_pixels`; otherwise InvalidArgument as CheckPixelCount, or "unknown
// image format" for bytes whose size cannot be read from a header. A JPEG
// whose frame header this walk does not find is left to the caller, which
// must check TurboJPEG's header with CheckPixelCount before allocating
// (DecodeImage does).
absl::Status CheckDeclaredImageSize(absl::string_view bytes,
                                    uint64_t max_pixels);

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_IMAGE_HEADER_H_
