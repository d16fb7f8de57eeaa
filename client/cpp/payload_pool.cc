#include "client/cpp/payload_pool.h"

#include <new>
#include <utility>

#include "common/memory/large_buffer.h"

namespace iterd::client {

// Uninitialised: the network fills them.
PayloadBuffer::PayloadBuffer(size_t capacity)
    : capacity_(capacity), data_(AllocateLargeBuffer(capacity)) {}

PayloadBuffer::~PayloadBuffer() { FreeLargeBuffer(data_, capacity_); }

std::shared_ptr<PayloadPool> PayloadPool::Create(size_t max_free) {
  return std::shared_ptr<PayloadPool>(new PayloadPool(max_free));
}

std::shared_ptr<PayloadBuffer> PayloadPool::Acquire(size_t size) {
  std::unique_ptr<PayloadBuffer> buffer;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      const size_t capacity = (*it)->capacity();
      if (capacity >= size && capacity / 2 <= size) {
        buffer = std::move(*it);
        free_.erase(it);
        break;
      }
    }
  }
  if (buffer == nullptr) buffer = std::make_unique<PayloadBuffer>(size);
  buffer->size_ = size;
  std::weak_ptr<PayloadPool> weak_pool = weak_from_this();
  return std::shared_ptr<PayloadBuffer>(
      buffer.release(), [weak_pool](PayloadBuffer* released) {
        std::unique_ptr<PayloadBuffer> owned(released);
        if (std::shared_ptr<PayloadPool> pool = weak_pool.lock()) {
          pool->Release(std::move(owned));
        }
      });
}

size_t PayloadPool::num_free() const {
  absl::MutexLock lock(&mu_);
  return free_.size();
}

void PayloadPool::Release(std::unique_ptr<PayloadBuffer> buffer) {
  absl::MutexLock lock(&mu_);
  if (free_.size() < max_free_) free_.push_back(std::move(buffer));
}

}  // namespace iterd::client
