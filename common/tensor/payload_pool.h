// File: common/tensor/payload_pool.h
//
// PayloadPool: recycles batch payload buffers of one size. A pipeline's batches
// all have the same size, and a fresh 38-154 MB allocation costs page faults
// and zeroing on every batch (measured ~2 GB/s into new memory against ~10 GB/s
// into reused memory), so the pool keeps up to `max_free` released buffers for
// the next batches.
//
// Region mode (CreateInRegion): the pool owns no memory; it hands out a fixed
// set of buffers carved from caller-provided memory (the slots of a same-host
// shared-memory region, so that batches are produced where the client reads
// them) and Acquire() waits until one is free instead of allocating. Cancel()
// ends every wait: a cancelled pool gives a plain heap buffer when none is
// free, so a pipeline being shut down never deadlocks on a buffer its consumer
// will never release. The memory is kept alive by a shared owner that the pool
// and every buffer it handed out hold.
//
// A buffer goes back to the pool only when its last owner lets go (the Batch
// and every stream still sending it), so no buffer is ever reused while someone
// may read it.
//
// Thread-safe. Buffers may outlive the pool (heap buffers are then freed,
// region buffers just drop their reference to the memory).

#ifndef ITERD_COMMON_TENSOR_PAYLOAD_POOL_H_
#define ITERD_COMMON_TENSOR_PAYLOAD_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace iterd {

class PayloadPool final : public std::enable_shared_from_this<PayloadPool> {
 public:
  static std::shared_ptr<PayloadPool> Create(size_t buffer_bytes, int max_free);

  // A pool of exactly `buffers` (each of at least buffer_bytes, not
  // overlapping) inside memory that `memory_owner` keeps mapped. REQUIRES:
  // buffers is not empty.
  static std::shared_ptr<PayloadPool> CreateInRegion(
      size_t buffer_bytes, std::vector<uint8_t*> buffers,
      std::shared_ptr<const void> memory_owner);

  PayloadPool(const PayloadPool&) = delete;
  PayloadPool& operator=(const PayloadPool&) = delete;
  ~PayloadPool();

  // A buffer of buffer_bytes() uninitialised bytes. In region mode waits for a
  // free region buffer, or returns a heap buffer once Cancel() was called.
  std::shared_ptr<uint8_t> Acquire() ABSL_LOCKS_EXCLUDED(mu_);

  // Wakes every waiting Acquire() and makes later ones fall back to the heap
  // when no region buffer is free. For shutting a pipeline down; irreversible.
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);

  size_t buffer_bytes() const { return buffer_bytes_; }
  bool region_backed() const { return memory_owner_ != nullptr; }
  // Buffers allocated from the heap so far (a measure of reuse).
  int64_t allocations() ABSL_LOCKS_EXCLUDED(mu_);
  // Region mode: buffers currently not handed out.
  int free_buffers() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  PayloadPool(size_t buffer_bytes, int max_free,
              std::shared_ptr<const void> memory_owner)
      : buffer_bytes_(buffer_bytes),
        max_free_(max_free),
        memory_owner_(std::move(memory_owner)) {}

  // Wraps `buffer` in a shared_ptr whose deleter gives it back.
  std::shared_ptr<uint8_t> Wrap(uint8_t* buffer, bool from_region);
  void Release(uint8_t* buffer) ABSL_LOCKS_EXCLUDED(mu_);

  const size_t buffer_bytes_;
  const int max_free_;
  // Region mode only: keeps the region's memory mapped.
  const std::shared_ptr<const void> memory_owner_;
  absl::Mutex mu_;
  std::vector<uint8_t*> free_ ABSL_GUARDED_BY(mu_);
  int64_t allocations_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace iterd

#endif  // ITERD_COMMON_TENSOR_PAYLOAD_POOL_H_
