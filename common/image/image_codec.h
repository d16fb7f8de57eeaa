// File: common/image/image_codec.h
//
// DecodeImage / EncodeImage: encoded image bytes <-> cv::Mat in OpenCV's
// channel order (BGR, BGRA, gray), with cv::imdecode / cv::imencode
// semantics, as MXNet's unpack_img / pack_img use them. JPEG goes through
// TurboJPEG (about 1.5x faster than cv::imdecode, same pixels); other formats
// and CMYK JPEGs go through OpenCV.
//
// Thread-safe: each thread lazily gets its own TurboJPEG handles (kept until
// the thread exits). Results own their pixels/bytes; nothing refers to the
// inputs after a call. No exceptions escape (OpenCV's are caught).

#ifndef ITERD_COMMON_IMAGE_IMAGE_CODEC_H_
#define ITERD_COMMON_IMAGE_IMAGE_CODEC_H_

#include <cstdint>
#include <exception>
#include <opencv2/core.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/image/image_header.h"

namespace iterd::image {

// cv::imdecode's flags that MXNet uses (unpack_img's iscolor).
inline constexpr int kDecodeUnchanged = -1;  // As stored (gray, BGR, BGRA).
inline constexpr int kDecodeGray = 0;        // 1 channel.
inline constexpr int kDecodeColor = 1;       // 3 channels, BGR.

// Decodes `bytes` like cv::imdecode(bytes, flag), including the EXIF
// orientation applied for flags 0 and 1. JPEG (starting FF D8) decodes
// through TurboJPEG; everything else through OpenCV. InvalidArgument
// "not a decodable image (N bytes, starts with XX XX ...): reason" for empty
// or undecodable bytes, for an image whose header declares more than
// `max_pixels` pixels or whose format has no header iterd can size
// (CheckDeclaredImageSize, decided before any decoder allocates), and for a
// flag other than -1, 0, 1. ResourceExhausted if the pixels cannot be
// allocated. OpenCV's exception texts never reach the message.
absl::StatusOr<cv::Mat> DecodeImage(
    absl::string_view bytes, int flag,
    uint64_t max_pixels = kDefaultMaxImagePixels);

// The status for an exception a decoder or OpenCV threw on one image:
// InvalidArgument "decoding or augmenting the image failed (out of memory |
// internal decoder error)". The exception's text (a source path and an
// assertion) is not in it: log it instead.
absl::Status ExceptionStatus(const std::exception& error);

// Encodes `image` (8-bit BGR, BGRA or gray; PNG also takes 16-bit) as
// cv::imencode would for MXNet's pack_img: `ext` ".jpg"/".jpeg" (any case)
// -> JPEG at `quality` (1..100, 4:2:0 for colour; alpha is dropped);
// ".png" -> PNG with compression level `quality` clamped to 0..9 (pack_img
// passes its quality as the PNG level). InvalidArgument for another `ext`,
// an empty or unsupported image, or a JPEG quality out of range.
absl::StatusOr<std::string> EncodeImage(const cv::Mat& image,
                                        absl::string_view ext, int quality);

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_IMAGE_CODEC_H_
