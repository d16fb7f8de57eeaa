#include "common/image/jpeg_encoder.h"

#include <turbojpeg.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace iterd::image {

absl::StatusOr<std::unique_ptr<JpegEncoder>> JpegEncoder::Create() {
  tjhandle handle = tjInitCompress();
  if (handle == nullptr) {
    return absl::InternalError(
        absl::StrCat("tjInitCompress failed: ", tjGetErrorStr2(nullptr)));
  }
  return std::unique_ptr<JpegEncoder>(new JpegEncoder(handle));
}

JpegEncoder::~JpegEncoder() { tjDestroy(handle_); }

absl::StatusOr<std::string> JpegEncoder::Encode(
    absl::Span<const uint8_t> pixels, int width, int height, size_t row_stride,
    int channels, int quality) {
  if (quality < 1 || quality > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("JPEG quality must be in 1..100, got ", quality));
  }
  int pixel_format;
  switch (channels) {
    case 1:
      pixel_format = TJPF_GRAY;
      break;
    case 3:
      pixel_format = TJPF_BGR;
      break;
    case 4:
      pixel_format = TJPF_BGRX;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("JPEG encode needs 1, 3 or 4 channels, got ", channels));
  }
  // JPEG's frame header stores 16-bit sizes; libjpeg caps them at 65500.
  if (width <= 0 || height <= 0 || width > 65500 || height > 65500) {
    return absl::InvalidArgumentError(
        absl::StrCat("JPEG encode: bad image size ", width, "x", height));
  }
  const size_t row_bytes = static_cast<size_t>(width) * channels;
  if (row_stride < row_bytes ||
      pixels.size() <
          (static_cast<size_t>(height) - 1) * row_stride + row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JPEG encode: ", pixels.size(), " bytes (row stride ", row_stride,
        ") do not hold a ", width, "x", height, "x", channels, " image"));
  }
  const int subsampling = channels == 1 ? TJSAMP_GRAY : TJSAMP_420;
  // Encode straight into the result, sized for the worst case, to avoid
  // TurboJPEG's own buffer and a copy.
  std::string jpeg(tjBufSize(width, height, subsampling), '\0');
  auto* jpeg_data = reinterpret_cast<unsigned char*>(jpeg.data());
  unsigned long jpeg_size = jpeg.size();  // NOLINT(runtime/int): TurboJPEG's.
  // TurboJPEG would pick the fast DCT below quality 96; ACCURATEDCT keeps
  // libjpeg's default islow DCT, which is what cv::imencode uses.
  if (tjCompress2(handle_, pixels.data(), width, static_cast<int>(row_stride),
                  height, pixel_format, &jpeg_data, &jpeg_size, subsampling,
                  quality, TJFLAG_NOREALLOC | TJFLAG_ACCURATEDCT) != 0) {
    return absl::InternalError(
        absl::StrCat("JPEG encode: ", tjGetErrorStr2(handle_)));
  }
  jpeg.resize(jpeg_size);
  return jpeg;
}

}  // namespace iterd::image
