// File: client/cpp/sharded_iterator_parts.h
//
// The per-part machinery of ShardedIterator (sharded_iterator.h):
// PartFetcher, the thread that keeps a part's small queue of batches full,
// and the two batches made on the client: a short batch whose pad rows are
// filled with the part's first rows (MXNet's round_batch content for a part
// opened without it) and the filler batch (pad == batch_size) that evens out
// the trainers' batch counts.
//
// PartFetcher is thread-safe between its fetch thread and one consumer
// thread; it does not own the RemoteIterator it reads (which must outlive
// Join()). The batch functions are thread-safe and return batches owning (or
// sharing) their payloads.

#ifndef ITERD_CLIENT_CPP_SHARDED_ITERATOR_PARTS_H_
#define ITERD_CLIENT_CPP_SHARDED_ITERATOR_PARTS_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "client/cpp/batch.h"
#include "client/cpp/payload_pool.h"
#include "client/cpp/remote_iterator.h"
#include "iterd/v1/tensor.pb.h"

namespace iterd::client {

// Batches a part's fetch thread reads ahead of the trainer (Python's
// PART_QUEUE_DEPTH).
inline constexpr int kPartQueueDepth = 2;

// One part's fetch thread: the only thread that touches the part's
// RemoteIterator between Start() and Join(). It keeps up to kPartQueueDepth
// items queued; an end or error item is its last.
class PartFetcher {
 public:
  struct Item {
    enum class Kind { kBatch, kEnd, kError };
    Kind kind = Kind::kEnd;
    Batch batch;
    absl::Status status;
  };

  PartFetcher() = default;
  PartFetcher(const PartFetcher&) = delete;
  PartFetcher& operator=(const PartFetcher&) = delete;
  ~PartFetcher() { Join(); }

  // Starts a thread reading `iterator` (after joining any previous one).
  void Start(RemoteIterator* iterator);

  // Blocks until the thread queued an item. REQUIRES: started, and no end or
  // error item taken since.
  Item Get();

  // Asks the thread to stop; it finishes a Next() call in progress.
  void RequestStop();

  // RequestStop(), waits for the thread and drops what it queued.
  void Join();

 private:
  bool HasItem() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty();
  }
  bool CanPush() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || queue_.size() < static_cast<size_t>(kPartQueueDepth);
  }
  void Run(RemoteIterator* iterator);

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// A copy of `batch` whose pad rows hold the first real rows of `source`,
// cycled (`source` may be `batch` itself). Tensors whose first axis is not
// the batch are left alone.
Batch WrapFill(const Batch& batch, const Batch& source, PayloadPool* pool);

// A batch of pad == batch_size: `first_batch` again (real samples wrapped
// around, as MXNet pads; index zeroed), or zeros of the descriptors' shapes
// when there is none. sequence -1 marks it as made on the client.
Batch FillerBatch(
    const std::optional<Batch>& first_batch,
    const google::protobuf::RepeatedPtrField<iterd::v1::DataDesc>& provide_data,
    const google::protobuf::RepeatedPtrField<iterd::v1::DataDesc>&
        provide_label,
    int64_t batch_size, int64_t epoch, PayloadPool* pool);

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_SHARDED_ITERATOR_PARTS_H_
