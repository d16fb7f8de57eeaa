// File: server/pipeline/image_iter_factory.h
//
// The ImageIter case of the pipeline factory: checks an ImageIterConfig and
// wires ImageIterSource -> Batcher -> Prefetcher for it. Registered as the
// image_iter PipelineKind (pipeline_kind.h).
//
// Stateless functions; thread-safe. The opened pipeline borrows
// environment.pool, which must outlive it.

#ifndef ITERD_SERVER_PIPELINE_IMAGE_ITER_FACTORY_H_
#define ITERD_SERVER_PIPELINE_IMAGE_ITER_FACTORY_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "iterd/v1/pipeline.pb.h"
#include "server/pipeline/pipeline_kind.h"
#include "server/pipeline/pipeline_types.h"

namespace iterd::pipeline {

// Checks what can be checked without touching files. InvalidArgument whose
// message names the field ("image_iter.data_shape: ...").
absl::Status ValidateImageIter(const v1::ImageIterConfig& config);

// Validates, resolves every path (the .rec, .idx, .lst and each listed image)
// through environment.resolve_path, and starts the pipeline. A missing file
// fails here, naming it. REQUIRES: config.has_image_iter().
absl::StatusOr<OpenedPipeline> OpenImageIter(
    const v1::PipelineConfig& config, const PipelineEnvironment& environment);

const PipelineKind& ImageIterKind();

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_IMAGE_ITER_FACTORY_H_
