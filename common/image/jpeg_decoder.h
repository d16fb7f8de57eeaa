// File: common/image/jpeg_decoder.h
//
// JpegDecoder: a thin wrapper over one TurboJPEG decompressor handle. It reads
// a JPEG's header (size, chroma subsampling, colour space) and decodes the
// pixels straight into a caller-owned buffer as BGR, RGB or gray, optionally
// scaled down in the DCT domain by 1/2, 1/4 or 1/8 (the factors libjpeg-turbo
// 2.1 runs in SIMD; see docs/benchmarks.md, "Design facts").
//
//   ITERD_ASSIGN_OR_RETURN(std::unique_ptr<JpegDecoder> decoder,
//                          JpegDecoder::Create());
//   ITERD_ASSIGN_OR_RETURN(JpegHeader header, decoder->ReadHeader(bytes));
//   std::vector<uint8_t> pixels(header.width * header.height * 3);
//   ITERD_RETURN_IF_ERROR(decoder->Decode(bytes, PixelOrder::kBgr, 1,
//                                         absl::MakeSpan(pixels),
//                                         header.width * 3));
//
// Thread-compatible: one object per thread (it reuses its handle and the
// libjpeg state inside it, which is the point); distinct objects may be used
// concurrently. The decoder owns its handle; it never keeps the input bytes
// or the output buffer past a call. A failed call leaves nothing behind:
// TurboJPEG does not reset libjpeg's state after an error in the header
// call (the next image then fails with "two SOI markers"), so every error
// replaces the handle with a fresh one.

#ifndef ITERD_COMMON_IMAGE_JPEG_DECODER_H_
#define ITERD_COMMON_IMAGE_JPEG_DECODER_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace iterd::image {

// Output pixel layout, interleaved, 8 bits per sample.
enum class PixelOrder { kBgr, kRgb, kGray };

// Samples per pixel of `order` (3 or 1).
int ChannelCount(PixelOrder order);

// Colour space of the stored JPEG (TurboJPEG's TJCS_* values).
enum class JpegColorSpace { kRgb, kYCbCr, kGray, kCmyk, kYcck };

struct JpegHeader {
  int width = 0;
  int height = 0;
  // TurboJPEG's TJSAMP_* value (0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0, 3 = gray,
  // 4 = 4:4:0, 5 = 4:1:1), or -1 when the layout has no TJSAMP name.
  int subsampling = -1;
  JpegColorSpace color_space = JpegColorSpace::kYCbCr;

  // TurboJPEG cannot convert CMYK/YCCK to BGR/RGB/gray.
  bool IsCmyk() const {
    return color_space == JpegColorSpace::kCmyk ||
           color_space == JpegColorSpace::kYcck;
  }
};

// True when `bytes` start with the JPEG SOI marker FF D8.
bool LooksLikeJpeg(absl::string_view bytes);

class JpegDecoder final {
 public:
  // InternalError if TurboJPEG cannot allocate a handle.
  static absl::StatusOr<std::unique_ptr<JpegDecoder>> Create();

  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;
  ~JpegDecoder();

  // Parses the markers up to the frame header. InvalidArgument (with
  // TurboJPEG's reason) when `jpeg` is not a readable JPEG; InternalError if
  // the handle could not be rebuilt after an earlier error.
  absl::StatusOr<JpegHeader> ReadHeader(absl::string_view jpeg);

  // Output size for a DCT-domain downscale by 1/`scale_denominator`
  // (libjpeg rounds up: ceil(width / denominator)).
  static int ScaledDimension(int dimension, int scale_denominator);

  // Decodes `jpeg` into `out`, rows `row_stride` bytes apart, scaled by
  // 1/`scale_denominator` (1, 2, 4 or 8). REQUIRES: `out` holds at least
  // (scaled_height - 1) * row_stride + scaled_width * ChannelCount(order)
  // bytes; InvalidArgument otherwise, for CMYK/YCCK input, a bad scale, or
  // undecodable bytes. Non-fatal libjpeg warnings (e.g. a truncated scan, whose
  // missing rows come out grey) are not errors, as with cv::imdecode.
  absl::Status Decode(absl::string_view jpeg, PixelOrder order,
                      int scale_denominator, absl::Span<uint8_t> out,
                      size_t row_stride);

 private:
  explicit JpegDecoder(void* handle) : handle_(handle) {}

  // Destroys the handle and makes a new one (null if that fails; the next
  // call retries).
  void ResetHandle();
  // InternalError when there is no handle and none can be made.
  absl::Status EnsureHandle();

  void* handle_;  // tjhandle; void* keeps turbojpeg.h out of users.
};

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_JPEG_DECODER_H_
