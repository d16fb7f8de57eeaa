// File: server/pipeline/factory_common.h
//
// What every pipeline kind's factory (pipeline_factory.cc,
// image_record_factory.cc, image_iter_factory.cc) shares: field errors, the
// prefetch depth, descriptor names, and StartPipeline(), the common end of
// opening a pipeline (Batcher over the source, batch-size limit, descriptors,
// stats hook, Prefetcher). Internal to server/pipeline.

#ifndef ITERD_SERVER_PIPELINE_FACTORY_COMMON_H_
#define ITERD_SERVER_PIPELINE_FACTORY_COMMON_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iterd/v1/pipeline.pb.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/pipeline_factory.h"
#include "server/pipeline/sample_source.h"

namespace iterd::pipeline {

// InvalidArgument "FIELD: PROBLEM".
absl::Status FieldError(absl::string_view field, absl::string_view problem);

// The pipeline's prefetch_buffer, else the daemon's default.
int PrefetchDepth(const v1::PipelineConfig& config,
                  const PipelineEnvironment& environment);

// MXNet's data_name / label_name, defaulting to "data" / "softmax_label".
std::string DataName(const v1::PipelineConfig& config);
std::string LabelName(const v1::PipelineConfig& config);

struct PipelineShape {
  int64_t batch_size = 0;
  LastBatchPolicy policy = LastBatchPolicy::kPad;
  int prefetch_depth = 1;
  // One name per data / label tensor of the source, in order.
  std::vector<std::string> data_names;
  std::vector<std::string> label_names;
  // Layout reported for the data tensors ("NCHW", as MXNet for every iterator,
  // or "NHWC").
  std::string data_layout = "NCHW";
};

// Wraps `source` in a Batcher and a Prefetcher (which starts producing at
// once), after refusing batches larger than the daemon's max_batch_bytes. Fills
// prefetcher, descriptors, batch_size and source_stats; the caller fills the
// rest (seed, num_samples, sample_order).
absl::StatusOr<OpenedPipeline> StartPipeline(
    std::unique_ptr<SampleSource> source, const PipelineShape& shape,
    const PipelineEnvironment& environment);

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_FACTORY_COMMON_H_
