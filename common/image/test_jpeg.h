// File: common/image/test_jpeg.h
//
// Test support: encodes a BGR cv::Mat to JPEG with a chosen chroma
// subsampling (TJSAMP_444, TJSAMP_420, ... or TJSAMP_GRAY, which encodes the
// grey conversion), so decoder tests can cover profiles that JpegEncoder's
// fixed cv::imencode settings (4:2:0) do not produce.
//
// testonly. Thread-safe (one TurboJPEG handle per call).

#ifndef ITERD_COMMON_IMAGE_TEST_JPEG_H_
#define ITERD_COMMON_IMAGE_TEST_JPEG_H_

#include <opencv2/core.hpp>
#include <string>

namespace iterd::image::testing {

// The JPEG bytes of 8-bit BGR `bgr`; empty if TurboJPEG fails.
std::string EncodeTestJpeg(const cv::Mat& bgr, int subsampling,
                           int quality = 94);

}  // namespace iterd::image::testing

#endif  // ITERD_COMMON_IMAGE_TEST_JPEG_H_
