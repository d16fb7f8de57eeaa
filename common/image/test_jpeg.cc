#include "common/image/test_jpeg.h"

#include <turbojpeg.h>
#include <zlib.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace iterd::image::testing {

std::string EncodeTestJpeg(const cv::Mat& bgr, int subsampling, int quality) {
  cv::Mat source = bgr;
  int format = TJPF_BGR;
  if (subsampling == TJSAMP_GRAY) {
    cv::cvtColor(bgr, source, cv::COLOR_BGR2GRAY);
    format = TJPF_GRAY;
  }
  tjhandle handle = tjInitCompress();
  if (handle == nullptr) return {};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  std::string bytes;
  if (tjCompress2(handle, source.data, source.cols,
                  static_cast<int>(source.step[0]), source.rows, format,
                  &buffer, &size, subsampling, quality, 0) == 0) {
    bytes.assign(reinterpret_cast<const char*>(buffer), size);
  }
  tjFree(buffer);
  tjDestroy(handle);
  return bytes;
}

std::string WithJpegFrameSize(std::string jpeg, int width, int height) {
  // Markers after SOI: FF xx, a 16-bit length; SOF0..SOF15 except DHT (C4),
  // JPG (C8) and DAC (CC) hold precision, height, width at +5, +7.
  size_t i = 2;
  while (i + 9 < jpeg.size()) {
    if (static_cast<uint8_t>(jpeg[i]) != 0xFF) return jpeg;
    const uint8_t marker = static_cast<uint8_t>(jpeg[i + 1]);
    const size_t length = (static_cast<uint8_t>(jpeg[i + 2]) << 8) |
                          static_cast<uint8_t>(jpeg[i + 3]);
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
        marker != 0xCC) {
      jpeg[i + 5] = static_cast<char>(height >> 8);
      jpeg[i + 6] = static_cast<char>(height & 0xFF);
      jpeg[i + 7] = static_cast<char>(width >> 8);
      jpeg[i + 8] = static_cast<char>(width & 0xFF);
      return jpeg;
    }
    i += 2 + length;
  }
  return jpeg;
}

std::string PngWithDeclaredSize(const cv::Mat& bgr, uint32_t width,
                                uint32_t height) {
  std::vector<uint8_t> png;
  cv::imencode(".png", bgr, png);
  // Signature (8), IHDR length (4), "IHDR" (4), width, height at 16, 20; the
  // chunk's CRC-32 (over type and data, 17 bytes) at 29.
  auto put32 = [&png](size_t at, uint32_t value) {
    for (int k = 0; k < 4; ++k) png[at + k] = (value >> (24 - 8 * k)) & 0xFF;
  };
  put32(16, width);
  put32(20, height);
  put32(29, static_cast<uint32_t>(crc32(0, png.data() + 12, 17)));
  return std::string(png.begin(), png.end());
}

}  // namespace iterd::image::testing
