// File: server/pipeline/image_record_factory.h
//
// The ImageRecordIter case of the pipeline factory: checks an
// ImageRecordConfig (every field, MXNet's defaults for unset optional ones)
// and wires ImageRecordSource -> Batcher (round_batch) -> Prefetcher for it.
// Registered as the image_record PipelineKind (pipeline_kind.h).
//
// Descriptors (reference §10.4): data (B, C, H, W), or (B, H, W, C) with
// layout NHWC, in the configured dtype; label (B,) when label_width is 1 else
// (B, label_width), float32. DataBatch.index is not sent (MXNet's is all
// zeros).
//
// Stateless functions; thread-safe. The opened pipeline borrows
// environment.pool, which must outlive it.

#ifndef ITERD_SERVER_PIPELINE_IMAGE_RECORD_FACTORY_H_
#define ITERD_SERVER_PIPELINE_IMAGE_RECORD_FACTORY_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "iterd/v1/pipeline.pb.h"
#include "iterd/v1/service.pb.h"
#include "server/pipeline/pipeline_kind.h"
#include "server/pipeline/pipeline_types.h"

namespace iterd::pipeline {

// Checks what can be checked without touching files (augmenter and writer
// parameters included). InvalidArgument whose message names the field
// ("image_record.data_shape: ...").
absl::Status ValidateImageRecord(const v1::ImageRecordConfig& config);

// batch_size, shuffle, num_parts and part_index as named; seed sets both the
// shuffle seed (`seed`, MXNet's int, truncated to 32 bits) and `seed_aug`, so
// one client seed reproduces order and augmentation.
void ApplyImageRecordOverrides(const v1::PipelineOverrides& overrides,
                               v1::ImageRecordConfig* config);

// Validates, resolves the .rec/.idx/.lst/mean_img paths through
// environment.resolve_path and starts the pipeline. A missing .rec fails with
// NotFound naming it; a missing mean_img is computed over the data and
// written there (as MXNet does). OpenedPipeline.seed is the seed_aug in use
// (derived from seed when unset). REQUIRES: config.has_image_record().
absl::StatusOr<OpenedPipeline> OpenImageRecord(
    const v1::PipelineConfig& config, const PipelineEnvironment& environment);

const PipelineKind& ImageRecordKind();

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_IMAGE_RECORD_FACTORY_H_
