#include "common/image/jpeg_decoder.h"

#include <turbojpeg.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace iterd::image {
namespace {

int TurboPixelFormat(PixelOrder order) {
  switch (order) {
    case PixelOrder::kBgr:
      return TJPF_BGR;
    case PixelOrder::kRgb:
      return TJPF_RGB;
    case PixelOrder::kGray:
      return TJPF_GRAY;
  }
  return TJPF_BGR;
}

JpegColorSpace ToColorSpace(int tj_color_space) {
  switch (tj_color_space) {
    case TJCS_RGB:
      return JpegColorSpace::kRgb;
    case TJCS_GRAY:
      return JpegColorSpace::kGray;
    case TJCS_CMYK:
      return JpegColorSpace::kCmyk;
    case TJCS_YCCK:
      return JpegColorSpace::kYcck;
    default:
      return JpegColorSpace::kYCbCr;
  }
}

}  // namespace

int ChannelCount(PixelOrder order) {
  return order == PixelOrder::kGray ? 1 : 3;
}

bool LooksLikeJpeg(absl::string_view bytes) {
  return bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0xFF &&
         static_cast<uint8_t>(bytes[1]) == 0xD8;
}

absl::StatusOr<std::unique_ptr<JpegDecoder>> JpegDecoder::Create() {
  tjhandle handle = tjInitDecompress();
  if (handle == nullptr) {
    return absl::InternalError(
        absl::StrCat("tjInitDecompress failed: ", tjGetErrorStr2(nullptr)));
  }
  return std::unique_ptr<JpegDecoder>(new JpegDecoder(handle));
}

JpegDecoder::~JpegDecoder() {
  if (handle_ != nullptr) tjDestroy(handle_);
}

void JpegDecoder::ResetHandle() {
  if (handle_ != nullptr) tjDestroy(handle_);
  handle_ = tjInitDecompress();
}

absl::Status JpegDecoder::EnsureHandle() {
  if (handle_ == nullptr) handle_ = tjInitDecompress();
  if (handle_ == nullptr) {
    return absl::InternalError(
        absl::StrCat("tjInitDecompress failed: ", tjGetErrorStr2(nullptr)));
  }
  return absl::OkStatus();
}

absl::StatusOr<JpegHeader> JpegDecoder::ReadHeader(absl::string_view jpeg) {
  int width = 0;
  int height = 0;
  int subsampling = -1;
  int color_space = -1;
  ITERD_RETURN_IF_ERROR(EnsureHandle());
  // TurboJPEG's API takes a non-const pointer for the header call only; it
  // does not write through it.
  auto* data = const_cast<unsigned char*>(
      reinterpret_cast<const unsigned char*>(jpeg.data()));
  // A warning (e.g. stray bytes between segments, which libjpeg skips) comes
  // back as -1 after a complete header; cv::imdecode accepts it, so do we.
  if (tjDecompressHeader3(handle_, data, jpeg.size(), &width, &height,
                          &subsampling, &color_space) != 0 &&
      tjGetErrorCode(handle_) != TJERR_WARNING) {
    const std::string reason = tjGetErrorStr2(handle_);
    // tjDecompressHeader3 returns from libjpeg's error longjmp without
    // aborting the decompressor, which stays mid-header.
    ResetHandle();
    return absl::InvalidArgumentError(absl::StrCat("JPEG header: ", reason));
  }
  // libjpeg-turbo 2.1 accepts a tables-only stream with a 0x0 size (and a
  // reused handle can even report the previous image's size); demand a frame.
  if (width < 1 || height < 1) {
    ResetHandle();
    return absl::InvalidArgumentError("JPEG header: no image frame");
  }
  JpegHeader header;
  header.width = width;
  header.height = height;
  header.subsampling = subsampling;
  header.color_space = ToColorSpace(color_space);
  return header;
}

int JpegDecoder::ScaledDimension(int dimension, int scale_denominator) {
  return (dimension + scale_denominator - 1) / scale_denominator;
}

absl::Status JpegDecoder::Decode(absl::string_view jpeg, PixelOrder order,
                                 int scale_denominator, absl::Span<uint8_t> out,
                                 size_t row_stride) {
  if (scale_denominator != 1 && scale_denominator != 2 &&
      scale_denominator != 4 && scale_denominator != 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JPEG scale must be 1/1, 1/2, 1/4 or 1/8, got 1/", scale_denominator));
  }
  ITERD_ASSIGN_OR_RETURN(const JpegHeader header, ReadHeader(jpeg));
  if (header.IsCmyk()) {
    return absl::InvalidArgumentError(
        "JPEG: CMYK/YCCK images are not supported by TurboJPEG");
  }
  const int width = ScaledDimension(header.width, scale_denominator);
  const int height = ScaledDimension(header.height, scale_denominator);
  const size_t row_bytes = static_cast<size_t>(width) * ChannelCount(order);
  if (row_stride < row_bytes ||
      out.size() < (static_cast<size_t>(height) - 1) * row_stride + row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JPEG output buffer of ", out.size(), " bytes (row stride ", row_stride,
        ") is too small for ", width, "x", height, "x", ChannelCount(order)));
  }
  // Passing the scaled size makes TurboJPEG pick that DCT scaling factor.
  const int result = tjDecompress2(
      handle_, reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size(),
      out.data(), width, static_cast<int>(row_stride), height,
      TurboPixelFormat(order), /*flags=*/0);
  // libjpeg-turbo 2.1 reports warnings as -1 too, after the image has been
  // decoded in full; cv::imdecode accepts them, so do we.
  if (result != 0 && tjGetErrorCode(handle_) != TJERR_WARNING) {
    const std::string reason = tjGetErrorStr2(handle_);
    ResetHandle();
    return absl::InvalidArgumentError(absl::StrCat("JPEG decode: ", reason));
  }
  return absl::OkStatus();
}

}  // namespace iterd::image
