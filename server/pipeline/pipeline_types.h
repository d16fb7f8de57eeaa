// File: server/pipeline/pipeline_types.h
//
// The types every part of the pipeline factory shares: what the daemon gives
// a pipeline (PipelineEnvironment), what opening one gives back
// (OpenedPipeline), and the wire <-> iterd dtype mapping. A leaf: the factory
// (pipeline_factory.h), the kind registry (pipeline_kind.h) and each kind's
// factory include it, and it includes none of them.

#ifndef ITERD_SERVER_PIPELINE_PIPELINE_TYPES_H_
#define ITERD_SERVER_PIPELINE_PIPELINE_TYPES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/concurrency/thread_pool.h"
#include "common/image/image_header.h"
#include "common/tensor/dtype.h"
#include "common/tensor/npy.h"
#include "common/tensor/payload_pool.h"
#include "common/tensor/stream_position.h"
#include "iterd/v1/iterator_state.pb.h"
#include "iterd/v1/pipeline.pb.h"
#include "iterd/v1/service.pb.h"
#include "server/pipeline/prefetcher.h"
#include "server/pipeline/sample_source.h"

namespace iterd::pipeline {

// Most batches an iterator may prefetch (prefetch_buffer, csv.prefetch_buffer,
// limits.default_prefetch_buffer): each holds up to limits.max_batch_bytes.
inline constexpr int kMaxPrefetchBuffer = 64;

// What the factory needs from the daemon.
struct PipelineEnvironment {
  // Maps a client path to an absolute path under the data roots
  // (PermissionDenied/NotFound).
  std::function<absl::StatusOr<std::string>(absl::string_view)> resolve_path;
  // How messages name a path resolve_path returned: relative to its data root,
  // so that errors never tell the root's location. Null: the path as given.
  std::function<std::string(absl::string_view)> relative_name;
  ThreadPool* pool = nullptr;
  int default_prefetch_buffer = 4;
  uint64_t max_batch_bytes = 0;  // 0 = no limit.
  // limits.max_image_pixels and limits.max_npz_member_bytes.
  uint64_t max_image_pixels = image::kDefaultMaxImagePixels;
  uint64_t max_npz_member_bytes = kDefaultMaxNpzMemberBytes;
  // Optional: makes the Batcher's payload pool from the payload size and the
  // buffers the pipeline needs (prefetch depth + kPayloadsBeyondPrefetch), so
  // that batches can be produced in a same-host shared-memory region. Called
  // at most once per OpenPipeline, before production starts; null (or a null
  // result) means a heap pool.
  std::function<std::shared_ptr<PayloadPool>(size_t buffer_bytes,
                                             int pipeline_buffers)>
      make_payload_pool;
  // A client's saved state to start from (OpenIterator.resume_from); null:
  // the first batch. Borrowed for the OpenPipeline call.
  const v1::IteratorState* resume_from = nullptr;
  // Set by OpenPipeline from resume_from once checked against the config:
  // where StartPipeline (factory_common.h) restores the batcher to.
  std::optional<StreamPosition> resume_position;
};

// Type and shape of an array the client uploads in the OpenIterator stream.
struct InlineArraySpec {
  std::string name;  // The ArraySource's name, for upload error messages.
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  uint64_t byte_size = 0;
};

struct OpenedPipeline {
  std::unique_ptr<Prefetcher> prefetcher;
  std::vector<v1::DataDesc> provide_data;
  std::vector<v1::DataDesc> provide_label;
  int64_t batch_size = 0;
  uint64_t seed = 0;
  int64_t num_samples = -1;
  // The position before the first batch the prefetcher produces, and the
  // identity half of this iterator's states (iterator_state.h).
  StreamPosition start_position;
  v1::IteratorState state_identity;
  // The source's counters (records decoded and skipped). Thread-safe.
  std::function<SourceStats()> source_stats;
  // NDArray pipelines: the current sample order (NDArrayIter.idx). Null for
  // other kinds.
  std::function<std::vector<uint64_t>()> sample_order;
};

// Wire dtype <-> iterd dtype.
absl::StatusOr<DType> FromProtoDType(v1::DataType dtype,
                                     absl::string_view field);
v1::DataType ToProtoDType(DType dtype);

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_PIPELINE_TYPES_H_
