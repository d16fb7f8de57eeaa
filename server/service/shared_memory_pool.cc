#include "server/service/shared_memory_pool.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/logging.h"

namespace iterd::service {

std::function<std::shared_ptr<PayloadPool>(size_t, int)> RegionPoolFactory(
    uint32_t window_batches, uint64_t max_batch_bytes,
    SessionSharedMemory* out) {
  return [window_batches, max_batch_bytes, out](
             size_t buffer_bytes,
             int pipeline_buffers) -> std::shared_ptr<PayloadPool> {
    if (max_batch_bytes > 0 && buffer_bytes > max_batch_bytes) return nullptr;
    const uint32_t slots =
        static_cast<uint32_t>(std::max(pipeline_buffers, 1)) + window_batches +
        1;
    absl::StatusOr<std::unique_ptr<SharedMemoryRegion>> created =
        SharedMemoryRegion::Create(buffer_bytes, slots);
    if (!created.ok()) {
      ITERD_LOG(WARNING) << "no shared memory for an iterator: "
                         << created.status();
      return nullptr;
    }
    std::shared_ptr<SharedMemoryRegion> region = *std::move(created);
    std::vector<uint8_t*> buffers;
    buffers.reserve(slots);
    for (uint32_t slot = 0; slot < slots; ++slot) {
      buffers.push_back(region->slot(slot).data());
    }
    std::shared_ptr<PayloadPool> pool =
        PayloadPool::CreateInRegion(buffer_bytes, std::move(buffers), region);
    out->region = std::move(region);
    out->pool = pool;
    return pool;
  };
}

}  // namespace iterd::service
