#include "client/cpp/sharded_iterator_parts.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace iterd::client {

void PartFetcher::Start(RemoteIterator* iterator) {
  Join();
  {
    absl::MutexLock lock(&mu_);
    stop_ = false;
    queue_.clear();
  }
  thread_ = std::thread([this, iterator] { Run(iterator); });
}

PartFetcher::Item PartFetcher::Get() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &PartFetcher::HasItem));
  Item item = std::move(queue_.front());
  queue_.pop_front();
  return item;
}

void PartFetcher::RequestStop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
}

void PartFetcher::Join() {
  if (!thread_.joinable()) return;
  RequestStop();
  thread_.join();
  absl::MutexLock lock(&mu_);
  queue_.clear();
}

void PartFetcher::Run(RemoteIterator* iterator) {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    // Outside the lock: a fetch may take long, and Get() must not wait on it
    // while earlier batches are queued.
    absl::StatusOr<std::optional<Batch>> next = iterator->Next();
    Item item;
    if (!next.ok()) {
      item.kind = Item::Kind::kError;
      item.status = next.status();
    } else if (next->has_value()) {
      item.kind = Item::Kind::kBatch;
      item.batch = **std::move(next);
    }
    const bool last = item.kind != Item::Kind::kBatch;
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &PartFetcher::CanPush));
    if (stop_) return;
    queue_.push_back(std::move(item));
    if (last) return;
  }
}

Batch WrapFill(const Batch& batch, const Batch& source, PayloadPool* pool) {
  if (batch.data.empty() || batch.data[0].shape.empty() ||
      source.data.empty() || source.data[0].shape.empty()) {
    return batch;
  }
  const int64_t size = batch.data[0].shape[0];
  const int64_t real = size - batch.pad;
  const int64_t source_real = source.data[0].shape[0] - source.pad;
  if (source_real <= 0 || real >= size || real < 0) return batch;
  size_t bytes = 0;
  for (const std::vector<Tensor>* tensors : {&batch.data, &batch.label}) {
    for (const Tensor& tensor : *tensors) {
      bytes = std::max(bytes, tensor.offset + tensor.byte_size);
    }
  }
  std::shared_ptr<PayloadBuffer> payload = pool->Acquire(bytes);
  std::memcpy(payload->data(), batch.payload->data(), bytes);
  Batch filled = batch;
  filled.payload = payload;
  std::vector<Tensor*> targets;
  std::vector<const Tensor*> origins;
  for (Tensor& tensor : filled.data) targets.push_back(&tensor);
  for (Tensor& tensor : filled.label) targets.push_back(&tensor);
  for (const Tensor& tensor : source.data) origins.push_back(&tensor);
  for (const Tensor& tensor : source.label) origins.push_back(&tensor);
  for (Tensor* target : targets)
    target->data = payload->data() + target->offset;
  for (size_t k = 0; k < std::min(targets.size(), origins.size()); ++k) {
    Tensor& target = *targets[k];
    const Tensor& origin = *origins[k];
    if (target.shape.empty() || origin.shape.empty() ||
        target.shape[0] != size || origin.shape[0] <= 0) {
      continue;
    }
    const size_t row = target.byte_size / size;
    if (row != origin.byte_size / origin.shape[0]) continue;
    for (int64_t i = 0; i < batch.pad; ++i) {
      std::memcpy(payload->data() + target.offset + (real + i) * row,
                  origin.data + (i % source_real) * row, row);
    }
  }
  return filled;
}

Batch FillerBatch(
    const std::optional<Batch>& first_batch,
    const google::protobuf::RepeatedPtrField<iterd::v1::DataDesc>& provide_data,
    const google::protobuf::RepeatedPtrField<iterd::v1::DataDesc>&
        provide_label,
    int64_t batch_size, int64_t epoch, PayloadPool* pool) {
  Batch filler;
  if (first_batch.has_value()) {
    filler = *first_batch;
    std::fill(filler.index.begin(), filler.index.end(), 0);
  } else {
    size_t bytes = 0;
    for (const auto* descs : {&provide_data, &provide_label}) {
      for (const iterd::v1::DataDesc& desc : *descs) {
        size_t size = DataTypeSize(desc.dtype());
        for (int64_t dim : desc.shape()) size *= static_cast<size_t>(dim);
        Tensor tensor;
        tensor.dtype = desc.dtype();
        tensor.shape.assign(desc.shape().begin(), desc.shape().end());
        tensor.offset = bytes;
        tensor.byte_size = size;
        bytes += size;
        (descs == &provide_data ? filler.data : filler.label)
            .push_back(std::move(tensor));
      }
    }
    std::shared_ptr<PayloadBuffer> payload = pool->Acquire(bytes);
    std::memset(payload->data(), 0, bytes);
    for (Tensor& tensor : filler.data)
      tensor.data = payload->data() + tensor.offset;
    for (Tensor& tensor : filler.label)
      tensor.data = payload->data() + tensor.offset;
    filler.payload = payload;
    filler.epoch = epoch;
  }
  filler.pad = batch_size;
  filler.sequence = -1;
  return filler;
}

}  // namespace iterd::client
