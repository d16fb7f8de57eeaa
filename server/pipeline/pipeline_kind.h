// File: server/pipeline/pipeline_kind.h
//
// PipelineKind: everything the factory (pipeline_factory.cc) and the
// iterator state (iterator_state.cc) need to know about one kind of pipeline
// (NDArray, CSV, ImageRecord, ImageIter). Each kind defines one in its own
// <kind>_factory.cc, and pipeline_kinds.h finds the one of a config; nothing
// else dispatches on the kind of a config. This header is the leaf both
// include, so the registry and the kinds do not depend on each other in a
// circle.
//
// Stateless functions; thread-safe.

#ifndef ITERD_SERVER_PIPELINE_PIPELINE_KIND_H_
#define ITERD_SERVER_PIPELINE_PIPELINE_KIND_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tensor/npy.h"
#include "iterd/v1/pipeline.pb.h"
#include "iterd/v1/service.pb.h"
#include "server/pipeline/pipeline_types.h"

namespace iterd::pipeline {

// What an iterator state must agree on with the config it resumes, besides
// the fingerprint of the rest (iterator_state.h).
struct KindIdentity {
  int64_t batch_size = 0;
  int num_parts = 1;  // 0 in a config means 1.
  int part_index = 0;
  // The configured seed; when seed_drawn_at_open, 0 and the iterator draws
  // one (OpenedPipeline::seed).
  uint64_t seed = 0;
  bool seed_drawn_at_open = false;
};

struct PipelineKind {
  // As the IteratorState and messages name it: "ndarray", "csv", ...
  absl::string_view name;
  // Checks the kind's sub-message without touching files; InvalidArgument
  // naming the field ("csv.batch_size: ...").
  absl::Status (*validate)(const v1::PipelineConfig& config);
  // Applies the client's overrides to the kind's sub-message (not validated
  // yet); InvalidArgument for an override the kind does not have.
  absl::Status (*apply_overrides)(const v1::PipelineOverrides& overrides,
                                  v1::PipelineConfig* config);
  // Opens a validated config: resolves its files, builds source -> Batcher ->
  // Prefetcher (factory_common.h's StartPipeline). `uploads` are the inline
  // arrays, in DeclaredInlineArrays order (NDArray only).
  absl::StatusOr<OpenedPipeline> (*open)(
      const v1::PipelineConfig& config, std::vector<Array> uploads,
      const PipelineEnvironment& environment);
  KindIdentity (*identity)(const v1::PipelineConfig& config);
  // Clears the fields of the kind's sub-message that do not change the
  // batches (threads, prefetch depth, logging) and those KindIdentity
  // carries: what is left is fingerprinted.
  void (*clear_unfingerprinted)(v1::PipelineConfig* config);
  // Sets the seed of a kind whose seed is drawn at open (resuming a state
  // opens with the saved iterator's seed); null for the others.
  void (*set_seed)(uint64_t seed, v1::PipelineConfig* config);
  // The inline arrays the client uploads after `open`, in upload order;
  // InvalidArgument naming the field for a bad declaration. Null: none.
  absl::StatusOr<std::vector<InlineArraySpec>> (*declared_uploads)(
      const v1::PipelineConfig& config);
};

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_PIPELINE_KIND_H_
