#include "common/tensor/payload_pool.h"

#include "common/memory/large_buffer.h"

namespace iterd {

std::shared_ptr<PayloadPool> PayloadPool::Create(size_t buffer_bytes,
                                                 int max_free) {
  return std::shared_ptr<PayloadPool>(new PayloadPool(buffer_bytes, max_free));
}

PayloadPool::~PayloadPool() {
  for (uint8_t* buffer : free_) FreeLargeBuffer(buffer, buffer_bytes_);
}

std::shared_ptr<uint8_t> PayloadPool::Acquire() {
  uint8_t* buffer = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (!free_.empty()) {
      buffer = free_.back();
      free_.pop_back();
    } else {
      ++allocations_;
    }
  }
  // Uninitialised: zero-filling 150 MB would cost as much as the copy that
  // fills it.
  if (buffer == nullptr) buffer = AllocateLargeBuffer(buffer_bytes_);
  // The deleter holds the pool weakly: a buffer that outlives its pool is just
  // freed.
  std::weak_ptr<PayloadPool> pool = weak_from_this();
  const size_t bytes = buffer_bytes_;
  return std::shared_ptr<uint8_t>(buffer, [pool, bytes](uint8_t* released) {
    if (std::shared_ptr<PayloadPool> owner = pool.lock()) {
      owner->Release(released);
    } else {
      FreeLargeBuffer(released, bytes);
    }
  });
}

void PayloadPool::Release(uint8_t* buffer) {
  {
    absl::MutexLock lock(&mu_);
    if (static_cast<int>(free_.size()) < max_free_) {
      free_.push_back(buffer);
      return;
    }
  }
  FreeLargeBuffer(buffer, buffer_bytes_);
}

int64_t PayloadPool::allocations() {
  absl::MutexLock lock(&mu_);
  return allocations_;
}

}  // namespace iterd
