// File: server/pipeline/pipeline_kinds.h
//
// The registry of pipeline kinds: the one place that maps a PipelineConfig's
// `kind` to its PipelineKind (pipeline_kind.h). Adding a kind is one case in
// pipeline_kinds.cc.

#ifndef ITERD_SERVER_PIPELINE_PIPELINE_KINDS_H_
#define ITERD_SERVER_PIPELINE_PIPELINE_KINDS_H_

#include "absl/strings/string_view.h"
#include "iterd/v1/pipeline.pb.h"
#include "server/pipeline/pipeline_kind.h"

namespace iterd::pipeline {

// The kind of `config`, or null when it has none set.
const PipelineKind* FindPipelineKind(const v1::PipelineConfig& config);

// Every kind's name, for messages ("ndarray, csv, image_record, image_iter").
absl::string_view PipelineKindNames();

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_PIPELINE_KINDS_H_
