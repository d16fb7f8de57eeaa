// File: common/image/jpeg_encoder.h
//
// JpegEncoder: one TurboJPEG compressor handle, encoding interleaved 8-bit
// BGR, BGRX (the fourth byte is ignored, as OpenCV drops alpha) or gray
// pixels into a baseline JPEG with the settings cv::imencode uses by default:
// accurate integer DCT, 4:2:0 chroma for colour, JFIF header, no Huffman
// optimisation.
//
// Thread-compatible: one object per thread; distinct objects may be used
// concurrently. The encoder owns its handle and keeps nothing of its inputs.

#ifndef ITERD_COMMON_IMAGE_JPEG_ENCODER_H_
#define ITERD_COMMON_IMAGE_JPEG_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace iterd::image {

class JpegEncoder final {
 public:
  // InternalError if TurboJPEG cannot allocate a handle.
  static absl::StatusOr<std::unique_ptr<JpegEncoder>> Create();

  JpegEncoder(const JpegEncoder&) = delete;
  JpegEncoder& operator=(const JpegEncoder&) = delete;
  ~JpegEncoder();

  // Encodes a `width` x `height` image of `channels` (1 gray, 3 BGR, 4 BGRX)
  // whose rows are `row_stride` bytes apart in `pixels`. InvalidArgument for
  // a bad size, channel count or `quality` outside 1..100.
  absl::StatusOr<std::string> Encode(absl::Span<const uint8_t> pixels,
                                     int width, int height, size_t row_stride,
                                     int channels, int quality);

 private:
  explicit JpegEncoder(void* handle) : handle_(handle) {}

  void* const handle_;  // tjhandle.
};

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_JPEG_ENCODER_H_
