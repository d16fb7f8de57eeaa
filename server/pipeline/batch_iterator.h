// File: server/pipeline/batch_iterator.h
//
// BatchIterator: what the service consumes. GetNext() yields the batches of the
// current epoch and then reports end of epoch (OK status, *end_of_epoch = true)
// until Reset() starts the next epoch. End of data is never an error, and an
// error is never end of data.
//
// Thread-compatibility: implementations are not thread-safe unless they say so
// (the Prefetcher is).

#ifndef ITERD_SERVER_PIPELINE_BATCH_ITERATOR_H_
#define ITERD_SERVER_PIPELINE_BATCH_ITERATOR_H_

#include <memory>

#include "absl/status/status.h"
#include "common/tensor/batch.h"
#include "common/tensor/stream_position.h"

namespace iterd::pipeline {

class BatchIterator {
 public:
  virtual ~BatchIterator() = default;

  // On success either sets *batch or sets *end_of_epoch.
  virtual absl::Status GetNext(std::shared_ptr<Batch>* batch,
                               bool* end_of_epoch) = 0;

  // Starts the next epoch. `epoch_finished` says whether the consumer received
  // every batch of the current one: only then do MXNet's carry-over rules of
  // the last-batch policy apply. A producer that runs ahead (the Prefetcher)
  // may have reached the end of the epoch while its consumer is still in the
  // middle; a reset then starts the next epoch afresh, as it would in MXNet.
  virtual absl::Status Reset(bool epoch_finished) = 0;

  // Where the stream is: the position before the batch GetNext() returns
  // next (each Batch carries the one after it in Batch::after).
  virtual StreamPosition position() const = 0;

  // Continues from `position` as position() or Batch::after reported it (on
  // this or another instance of the same config): the batches that followed
  // it then follow now. Reads nothing before it (a roll_over tail held for
  // the next epoch is re-read). InvalidArgument for a position this stream
  // cannot have.
  virtual absl::Status Restore(const StreamPosition& position) = 0;

  // Full batch shapes (batch axis first) of every data and label tensor.
  virtual const std::vector<TensorSpec>& data_specs() const = 0;
  virtual const std::vector<TensorSpec>& label_specs() const = 0;
};

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_BATCH_ITERATOR_H_
