// File: server/pipeline/pipeline_factory.h
//
// Opening a pipeline from its PipelineConfig: validates it, applies a
// client's permitted overrides, checks a resume state against it, and hands
// it to its kind (pipeline_kind.h), which wires source -> Batcher ->
// Prefetcher. A new pipeline kind is a config message, a source and one
// registration in pipeline_kind.cc; nothing here changes.

#ifndef ITERD_SERVER_PIPELINE_PIPELINE_FACTORY_H_
#define ITERD_SERVER_PIPELINE_PIPELINE_FACTORY_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/tensor/npy.h"
#include "iterd/v1/pipeline.pb.h"
#include "iterd/v1/service.pb.h"
#include "server/pipeline/pipeline.h"
#include "server/pipeline/pipeline_types.h"

namespace iterd::pipeline {

// Type and shape of each inline array the config declares, in upload order
// (NDArray data, then label, inline ones only). InvalidArgument naming the
// field for a bad declaration.
absl::StatusOr<std::vector<InlineArraySpec>> DeclaredInlineArrays(
    const v1::PipelineConfig& config);

// Applies overrides to a named pipeline's config. InvalidArgument for an
// override that the pipeline kind does not have (e.g. shuffle on CSV).
absl::Status ApplyOverrides(const v1::PipelineOverrides& overrides,
                            v1::PipelineConfig* config);

// Checks what can be checked without touching files; the message names the
// field.
absl::Status ValidatePipelineConfig(const v1::PipelineConfig& config);

// Builds and starts the pipeline (it starts producing at once).
absl::StatusOr<std::unique_ptr<Pipeline>> OpenPipeline(
    const v1::PipelineConfig& config, std::vector<Array> uploads,
    const PipelineEnvironment& environment);

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_PIPELINE_FACTORY_H_
