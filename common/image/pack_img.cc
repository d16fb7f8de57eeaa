#include "common/image/pack_img.h"

#include <utility>

#include "common/image/image_codec.h"
#include "common/status/status_macros.h"

namespace iterd::image {

absl::StatusOr<std::string> PackImage(const recordio::IRHeader& header,
                                      const cv::Mat& image, int quality,
                                      absl::string_view ext) {
  ITERD_ASSIGN_OR_RETURN(const std::string encoded,
                         EncodeImage(image, ext, quality));
  return recordio::PackRecord(header, encoded);
}

absl::StatusOr<recordio::IRHeader> UnpackImage(absl::string_view record,
                                               int flag, cv::Mat* image) {
  absl::string_view payload;
  ITERD_ASSIGN_OR_RETURN(recordio::IRHeader header,
                         recordio::UnpackRecord(record, &payload));
  ITERD_ASSIGN_OR_RETURN(*image, DecodeImage(payload, flag));
  return header;
}

}  // namespace iterd::image
