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
#include "server/pipeline/pipeline_types.h"
#include "server/pipeline/sample_source.h"

namespace iterd::pipeline {

// InvalidArgument "FIELD: PROBLEM".
absl::Status FieldError(absl::string_view field, absl::string_view problem);

// Most dimensions of a client-declared shape (NumPy's limit).
inline constexpr int kMaxShapeRank = 32;
// Longest input or descriptor name (data_name, ArraySource.name, ...).
inline constexpr size_t kMaxNameBytes = 1024;

// InvalidArgument naming `field` for a shape with no dimension or more than
// kMaxShapeRank, a dimension below `min_dim`, or a sample of more than 2^62
// bytes of `dtype` (an overflow: no number computed from it is ever shown).
absl::Status CheckSampleShape(absl::string_view field,
                              const std::vector<int64_t>& shape, DType dtype,
                              int64_t min_dim);

// InvalidArgument naming `field` for a name longer than kMaxNameBytes or
// holding a NUL byte.
absl::Status CheckNameText(absl::string_view field, absl::string_view name);

// ResourceExhausted naming `fields` when a batch of `batch_size` samples of
// `sample_specs` (one sample's data and label tensors, and an int64 "tensor"
// for the batch's index when it has one) would exceed the
// daemon's max_batch_bytes; computed with overflow checks, before anything
// is allocated or scheduled. REQUIRES: batch_size >= 1, shapes non-negative.
absl::Status CheckBatchBytes(absl::string_view fields, int64_t batch_size,
                             const std::vector<TensorSpec>& sample_specs,
                             const PipelineEnvironment& environment);

// A client path after the data-root policy: `path` to open, `name` for
// messages (relative to its data root, never the root's location).
struct ResolvedFile {
  std::string path;
  std::string name;
};

// Resolves the client path of config field `field` (CheckPathText, then
// environment.resolve_path); errors are "FIELD: ..." and name the file
// relative to its root.
absl::StatusOr<ResolvedFile> ResolveField(
    const PipelineEnvironment& environment, absl::string_view field,
    absl::string_view path);

// `status` with every absolute path in its message that lies under a data
// root replaced by its name relative to that root (environment.relative_name;
// a path is a run from a '/' up to a space, quote, colon, comma or
// parenthesis), control bytes escaped and the message cut to
// kMaxMessageBytes (BoundedMessage). The net under every open error: readers
// name what they opened, which holds the root's location, and may quote what
// they read.
absl::Status NameFilesRelative(const absl::Status& status,
                               const PipelineEnvironment& environment);

// `status` with every occurrence of `file.path` in its message replaced by
// ShownName(file.name) (for errors of readers that name what they opened).
absl::Status NameFileIn(const absl::Status& status, const ResolvedFile& file);

// Bytes of an array of `shape` and `dtype`; InvalidArgument naming `field`
// for a negative dimension, ResourceExhausted for more than 2^50 bytes (the
// shape comes from the client: no product is computed that overflows).
absl::StatusOr<uint64_t> ShapeBytes(const std::vector<int64_t>& shape,
                                    DType dtype, absl::string_view field);

// A repeated int64 field as a vector.
std::vector<int64_t> ToVector(
    const google::protobuf::RepeatedField<int64_t>& field);

// InvalidArgument naming `field` unless batch_size is in [1, kMaxBatchSize].
absl::Status CheckBatchSize(absl::string_view field, int64_t batch_size);

// InvalidArgument naming <prefix>num_parts / <prefix>part_index unless
// num_parts >= 0 (0 means 1) and part_index is in [0, max(num_parts, 1)).
absl::Status CheckParts(absl::string_view prefix, int num_parts,
                        int part_index);

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
// once), after refusing batches larger than the daemon's max_batch_bytes
// (before the Batcher exists: it sizes its payload pool from them). Fills
// prefetcher, descriptors, batch_size and source_stats; the caller fills the
// rest (seed, num_samples, sample_order).
absl::StatusOr<OpenedPipeline> StartPipeline(
    std::unique_ptr<SampleSource> source, const PipelineShape& shape,
    const PipelineEnvironment& environment);

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_FACTORY_COMMON_H_
