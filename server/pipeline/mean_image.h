// File: server/pipeline/mean_image.h
//
// The mean image of ImageRecordIter's `mean_img`: MXNet's NDArray-list file
// (reference §4) holding one float32 array of shape (C, H, W), RGB channel
// order, CHW. ParseMeanImage reads it; EncodeMeanImage writes the same bytes
// MXNet's nd.save({"mean_img": array}) does (tests, and the day iterd creates
// missing mean files as MXNet does).
//
// Pure functions; thread-safe.

#ifndef ITERD_SERVER_PIPELINE_MEAN_IMAGE_H_
#define ITERD_SERVER_PIPELINE_MEAN_IMAGE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace iterd::pipeline {

// The C*H*W values of the file's only array. InvalidArgument naming `name`
// for: a bad list or array magic, not exactly one array, a non-dense or
// non-float32 array, a shape other than (channels, height, width), a file
// shorter than it declares.
absl::StatusOr<std::vector<float>> ParseMeanImage(absl::string_view bytes,
                                                  absl::string_view name,
                                                  int channels, int height,
                                                  int width);

// Maps `path` (NotFound naming it when missing) and parses it.
absl::StatusOr<std::vector<float>> LoadMeanImage(const std::string& path,
                                                 int channels, int height,
                                                 int width);

// The NDArray-list bytes of one float32 (channels, height, width) array keyed
// "mean_img". REQUIRES: values.size() == channels * height * width.
std::string EncodeMeanImage(absl::Span<const float> values, int channels,
                            int height, int width);

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_MEAN_IMAGE_H_
