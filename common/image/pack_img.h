// File: common/image/pack_img.h
//
// PackImage / UnpackImage: MXNet's mx.recordio.pack_img / unpack_img. A
// record is the IRHeader (and its label array) followed by the encoded
// image, exactly as recordio::PackRecord lays it out.
//
// Thread-safe (see image_codec.h). Results own their bytes/pixels.

#ifndef ITERD_COMMON_IMAGE_PACK_IMG_H_
#define ITERD_COMMON_IMAGE_PACK_IMG_H_

#include <opencv2/core.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/recordio/irheader.h"

namespace iterd::image {

// pack(header, EncodeImage(image, ext, quality)). `image` is in OpenCV order
// (BGR, BGRA, gray); for ".png" `quality` is the compression level, clamped
// to 0..9 (so the default 95 acts as 9, as in MXNet). Errors: EncodeImage's.
absl::StatusOr<std::string> PackImage(const recordio::IRHeader& header,
                                      const cv::Mat& image, int quality = 95,
                                      absl::string_view ext = ".jpg");

// unpack(record), then DecodeImage(payload, flag) into `*image`. DataLoss
// when the record is shorter than its header; InvalidArgument when the
// payload does not decode (where MXNet returns None).
absl::StatusOr<recordio::IRHeader> UnpackImage(absl::string_view record,
                                               int flag, cv::Mat* image);

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_PACK_IMG_H_
