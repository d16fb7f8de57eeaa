#include "common/image/test_jpeg.h"

#include <turbojpeg.h>

#include <opencv2/imgproc.hpp>

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

}  // namespace iterd::image::testing
