// File: server/pipeline/mean_image_builder.h
//
// MXNet's ImageRecordIter creates a missing `mean_img` file: before it starts
// it makes one pass over its data, averages the images as they leave the
// augmenter (float, RGB(A), CHW, before any normalisation) and saves the mean
// with nd.save. ComputeMeanImage is that pass; SaveMeanImageIfAbsent writes
// the file without ever replacing one that appeared meanwhile.
//
// Thread-compatible: each call owns its source; decoding runs on `pool`.

#ifndef ITERD_SERVER_PIPELINE_MEAN_IMAGE_BUILDER_H_
#define ITERD_SERVER_PIPELINE_MEAN_IMAGE_BUILDER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/concurrency/thread_pool.h"
#include "server/pipeline/image_record_source.h"

namespace iterd::pipeline {

// The C*H*W mean of every image of one pass over the part `options`
// describes, in file order. The options' normalisation, mirroring, output
// dtype/layout and mean image are ignored (the mean is taken before them);
// decoding and augmentation are as configured, so the mean matches what the
// iterator subtracts from. Records skipped as corrupt do not count.
// FailedPrecondition when no image could be read.
absl::StatusOr<std::vector<float>> ComputeMeanImage(
    ImageRecordSourceOptions options, ThreadPool* pool);

// Writes `mean` as MXNet's NDArray list to `path` through a temporary file in
// the same directory, so a reader never sees a half-written file and an
// existing file is never replaced (AlreadyExists then). Errors name the path.
absl::Status SaveMeanImageIfAbsent(const std::string& path,
                                   absl::Span<const float> mean, int channels,
                                   int height, int width);

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_MEAN_IMAGE_BUILDER_H_
