#include "server/pipeline/pipeline_factory.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "server/pipeline/factory_common.h"
#include "server/pipeline/iterator_state.h"
#include "server/pipeline/pipeline_kinds.h"

namespace iterd::pipeline {

absl::Status ValidatePipelineConfig(const v1::PipelineConfig& config) {
  // Each prefetched batch holds memory (up to limits.max_batch_bytes): the
  // depth is bounded.
  for (const auto& [field, depth] :
       {std::pair<const char*, int>{"prefetch_buffer",
                                    config.prefetch_buffer()},
        {"csv.prefetch_buffer", config.csv().prefetch_buffer()}}) {
    if (depth < 0 || depth > kMaxPrefetchBuffer) {
      return FieldError(
          field, absl::StrCat("must be between 0 and ", kMaxPrefetchBuffer,
                              ", got ", depth));
    }
  }
  ITERD_RETURN_IF_ERROR(CheckNameText("data_name", config.data_name()));
  ITERD_RETURN_IF_ERROR(CheckNameText("label_name", config.label_name()));
  const PipelineKind* kind = FindPipelineKind(config);
  if (kind == nullptr) {
    return FieldError(
        "kind", absl::StrCat("a pipeline needs one of: ", PipelineKindNames()));
  }
  return kind->validate(config);
}

absl::Status ApplyOverrides(const v1::PipelineOverrides& overrides,
                            v1::PipelineConfig* config) {
  if (const PipelineKind* kind = FindPipelineKind(*config); kind != nullptr) {
    ITERD_RETURN_IF_ERROR(kind->apply_overrides(overrides, config));
  }
  return ValidatePipelineConfig(*config);
}

absl::StatusOr<std::vector<InlineArraySpec>> DeclaredInlineArrays(
    const v1::PipelineConfig& config) {
  const PipelineKind* kind = FindPipelineKind(config);
  if (kind == nullptr || kind->declared_uploads == nullptr) {
    return std::vector<InlineArraySpec>();
  }
  return kind->declared_uploads(config);
}

absl::StatusOr<std::unique_ptr<Pipeline>> OpenPipeline(
    const v1::PipelineConfig& config, std::vector<Array> uploads,
    const PipelineEnvironment& environment) {
  ITERD_RETURN_IF_ERROR(ValidatePipelineConfig(config));
  v1::PipelineConfig effective = config;
  PipelineEnvironment resumed = environment;
  if (environment.resume_from != nullptr) {
    ITERD_ASSIGN_OR_RETURN(
        resumed.resume_position,
        CheckResumeState(*environment.resume_from, &effective));
  }
  // Validated above: the kind is set.
  absl::StatusOr<OpenedPipeline> opened =
      FindPipelineKind(effective)->open(effective, std::move(uploads), resumed);
  if (!opened.ok()) return NameFilesRelative(opened.status(), environment);
  opened->state_identity = StateIdentity(effective, opened->seed);
  return std::make_unique<Pipeline>(*std::move(opened));
}

}  // namespace iterd::pipeline
