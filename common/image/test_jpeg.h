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

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

namespace iterd::image::testing {

// The JPEG bytes of 8-bit BGR `bgr`; empty if TurboJPEG fails.
std::string EncodeTestJpeg(const cv::Mat& bgr, int subsampling,
                           int quality = 94);

// `jpeg` with its frame header (SOF) claiming `width` x `height` (each at
// most 65535): a tiny file that declares a huge image, as a decompression
// bomb does. Unchanged if it has no SOF marker.
std::string WithJpegFrameSize(std::string jpeg, int width, int height);

// A PNG of `bgr` whose IHDR then claims `width` x `height` (CRC fixed), so
// the header is valid and only the pixel data is short.
std::string PngWithDeclaredSize(const cv::Mat& bgr, uint32_t width,
                                uint32_t height);

}  // namespace iterd::image::testing

#endif  // ITERD_COMMON_IMAGE_TEST_JPEG_H_
