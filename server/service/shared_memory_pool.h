// File: server/service/shared_memory_pool.h
//
// Zero-copy same-host batches: the payload buffers of an iterator whose client
// asked for shared memory are the slots of its SharedMemoryRegion, so the
// pipeline produces each batch where the client reads it and Fetch sends only
// the slot number. SessionSharedMemory ties the region to the PayloadPool that
// carves its slots; RegionPoolFactory plugs into
// PipelineEnvironment::make_payload_pool to create both when the Batcher
// learns the payload size.
//
// Ownership: the pool and every buffer it hands out hold the region (shared),
// so the mapping outlives the last batch in it, whoever frees last.

#ifndef ITERD_SERVER_SERVICE_SHARED_MEMORY_POOL_H_
#define ITERD_SERVER_SERVICE_SHARED_MEMORY_POOL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/tensor/payload_pool.h"
#include "server/service/shared_memory_region.h"

namespace iterd::service {

// The same-host shared memory of one iterator (both null when it has none).
struct SessionSharedMemory {
  std::shared_ptr<SharedMemoryRegion> region;
  std::shared_ptr<PayloadPool> pool;
};

// A make_payload_pool callback: creates a region of `pipeline_buffers +
// window_batches + 1` slots of the payload size (the pipeline's own buffers,
// the batches one Fetch window lets a client hold, and one so the producer is
// not stalled by the window) and a pool over its slots, and stores both in
// *out. Returns null, logged, and leaves *out empty when the payload exceeds
// `max_batch_bytes` (0 = no limit; the factory refuses it anyway) or the region
// cannot be made: the client then stays on the byte stream. `out` must outlive
// the call.
std::function<std::shared_ptr<PayloadPool>(size_t, int)> RegionPoolFactory(
    uint32_t window_batches, uint64_t max_batch_bytes,
    SessionSharedMemory* out);

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_SHARED_MEMORY_POOL_H_
