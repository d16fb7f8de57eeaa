#include "common/tensor/payload_pool.h"

#include <utility>

#include "common/memory/large_buffer.h"

namespace iterd {

std::shared_ptr<PayloadPool> PayloadPool::Create(size_t buffer_bytes,
                                                 int max_free) {
  return std::shared_ptr<PayloadPool>(
      new PayloadPool(buffer_bytes, max_free, nullptr));
}

std::shared_ptr<PayloadPool> PayloadPool::CreateInRegion(
    size_t buffer_bytes, std::vector<uint8_t*> buffers,
    std::shared_ptr<const void> memory_owner) {
  std::shared_ptr<PayloadPool> pool(new PayloadPool(
      buffer_bytes, static_cast<int>(buffers.size()), std::move(memory_owner)));
  absl::MutexLock lock(&pool->mu_);
  // Reversed so that Acquire() (which pops the back) hands out the first
  // buffer first: low slots are touched first and stay warm.
  pool->free_.assign(buffers.rbegin(), buffers.rend());
  return pool;
}

PayloadPool::~PayloadPool() {
  if (region_backed()) return;  // The region's owner unmaps it.
  for (uint8_t* buffer : free_) FreeLargeBuffer(buffer, buffer_bytes_);
}

std::shared_ptr<uint8_t> PayloadPool::Acquire() {
  uint8_t* buffer = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (region_backed()) {
      auto free_or_cancelled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !free_.empty() || cancelled_;
      };
      mu_.Await(absl::Condition(&free_or_cancelled));
    }
    if (!free_.empty()) {
      buffer = free_.back();
      free_.pop_back();
    } else {
      ++allocations_;
    }
  }
  if (buffer != nullptr) return Wrap(buffer, region_backed());
  // Uninitialised: zero-filling 150 MB would cost as much as the copy that
  // fills it.
  return Wrap(AllocateLargeBuffer(buffer_bytes_), /*from_region=*/false);
}

std::shared_ptr<uint8_t> PayloadPool::Wrap(uint8_t* buffer, bool from_region) {
  // The deleter holds the pool weakly: a buffer that outlives its pool is just
  // freed (heap) or forgotten (region). A region buffer holds the memory's
  // owner, so the mapping outlives every buffer pointing into it.
  std::weak_ptr<PayloadPool> pool = weak_from_this();
  const size_t bytes = buffer_bytes_;
  if (from_region) {
    return std::shared_ptr<uint8_t>(
        buffer, [pool, owner = memory_owner_](uint8_t* released) {
          (void)owner;  // Held, not used: keeps the memory mapped.
          if (std::shared_ptr<PayloadPool> live = pool.lock()) {
            live->Release(released);
          }
        });
  }
  return std::shared_ptr<uint8_t>(buffer, [pool, bytes](uint8_t* released) {
    std::shared_ptr<PayloadPool> live = pool.lock();
    // A heap buffer of a region pool (made after Cancel()) is never pooled:
    // the pool holds region buffers only.
    if (live != nullptr && !live->region_backed()) {
      live->Release(released);
    } else {
      FreeLargeBuffer(released, bytes);
    }
  });
}

void PayloadPool::Release(uint8_t* buffer) {
  {
    absl::MutexLock lock(&mu_);
    if (region_backed() || static_cast<int>(free_.size()) < max_free_) {
      free_.push_back(buffer);
      return;
    }
  }
  FreeLargeBuffer(buffer, buffer_bytes_);
}

void PayloadPool::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

int64_t PayloadPool::allocations() {
  absl::MutexLock lock(&mu_);
  return allocations_;
}

int PayloadPool::free_buffers() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(free_.size());
}

}  // namespace iterd
