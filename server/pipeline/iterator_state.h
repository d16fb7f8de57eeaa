// File: server/pipeline/iterator_state.h
//
// The wire form of a pipeline's position (iterd.v1.IteratorState): what a
// state must agree on with the config it resumes (its identity: kind,
// batch_size, parts, seed and a fingerprint of the rest of the effective
// config), and the conversion of its position half to and from
// StreamPosition (common/tensor/stream_position.h).
//
// States come from clients and are treated as hostile: a state of another
// config is FAILED_PRECONDITION naming the first field that differs; a state
// that cannot be one of this config's (unknown version, negative or
// oversized numbers) is INVALID_ARGUMENT. Positions past the data are refused
// later, by the stages' Restore()/Seek(), also as INVALID_ARGUMENT.

#ifndef ITERD_SERVER_PIPELINE_ITERATOR_STATE_H_
#define ITERD_SERVER_PIPELINE_ITERATOR_STATE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/tensor/stream_position.h"
#include "iterd/v1/iterator_state.pb.h"
#include "iterd/v1/pipeline.pb.h"

namespace iterd::pipeline {

// The IteratorState format this daemon writes and reads.
inline constexpr uint32_t kIteratorStateVersion = 1;

// 64 bits of SHA-256 over the effective config with the fields that do not
// change the batches cleared (prefetch depths, decoder threads, verbose) and
// those the state carries on their own (batch_size, num_parts, part_index,
// and the seed of kinds that draw it at open). Covers the config only, not
// the bytes of the files it names.
uint64_t ConfigFingerprint(const v1::PipelineConfig& config);

// The identity fields of a state of `config` (effective, overrides applied)
// whose iterator runs with seed `seed_in_use` (OpenedPipeline::seed).
v1::IteratorState StateIdentity(const v1::PipelineConfig& config,
                                uint64_t seed_in_use);

// Checks that `state` belongs to `*config` and returns its position. A config
// whose seed is drawn at open (0) takes the state's seed, so the resumed
// iterator shuffles and augments as the saved one did.
absl::StatusOr<StreamPosition> CheckResumeState(const v1::IteratorState& state,
                                                v1::PipelineConfig* config);

// `identity` (from StateIdentity) with the position fields of `position`.
v1::IteratorState WithPosition(const v1::IteratorState& identity,
                               const StreamPosition& position);

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_ITERATOR_STATE_H_
