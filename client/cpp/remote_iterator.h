// File: client/cpp/remote_iterator.h
//
// RemoteIterator: a daemon-side iterator seen as an MXNet DataIter. Next()
// returns batches of the current epoch and std::nullopt at its end (again and
// again until Reset()). Batches are pulled with Fetch calls of up to
// max_batches() batches each, so at most that many are in flight; each batch
// is assembled in one recycled buffer (payload_pool.h).
//
// Same-host shared memory: when the open response carries a region that this
// process can map (fetch_stream.h, SharedMemoryMapping), Fetch calls ask the
// daemon to put payloads into its slots and Next() copies a batch out of its
// slot with one memcpy; nothing of the payload crosses the socket. A window's
// slots are reused by the next Fetch, which only starts once every batch of
// the window was copied out. Without a usable region, the byte stream.
//
//   ITERD_ASSIGN_OR_RETURN(std::unique_ptr<RemoteIterator> it,
//                          client->OpenNamed("imagenet_val"));
//   for (;;) {
//     ITERD_ASSIGN_OR_RETURN(std::optional<Batch> batch, it->Next());
//     if (!batch.has_value()) break;
//     ...
//   }
//   ITERD_RETURN_IF_ERROR(it->Reset());
//
// Thread-compatible: one thread at a time (the daemon refuses two concurrent
// Fetch calls on one iterator anyway). Owns its lease: Close() or the
// destructor frees the daemon-side iterator. The destructor never waits long
// (it often runs at exit): it cancels an open Fetch, and sends CloseIterator
// with a 1 s deadline only if the channel is connected or idle; otherwise the
// daemon frees the lease at its idle timeout. Batches it returned stay valid
// after it is gone.

#ifndef ITERD_CLIENT_CPP_REMOTE_ITERATOR_H_
#define ITERD_CLIENT_CPP_REMOTE_ITERATOR_H_

#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/cpp/batch.h"
#include "client/cpp/fetch_stream.h"
#include "client/cpp/payload_pool.h"
#include "iterd/v1/iterator_state.pb.h"
#include "iterd/v1/service.grpc.pb.h"

namespace iterd::client {

// How Fetch responses are read (see fetch_stream.h).
enum class FetchTransport {
  kProto,  // Generated stub, protobuf parse, then a copy.
  kRaw,    // Generic stub, slices copied straight into the batch.
};

class RemoteIterator final {
 public:
  // Takes over the iterator described by `opened` (made by Client::Open).
  // Maps opened.shared_memory() if it is set, `use_shared_memory` and the
  // region is usable from here.
  RemoteIterator(std::shared_ptr<grpc::Channel> channel,
                 iterd::v1::OpenIteratorResponse opened,
                 FetchTransport transport, bool use_shared_memory = true);
  RemoteIterator(const RemoteIterator&) = delete;
  RemoteIterator& operator=(const RemoteIterator&) = delete;
  ~RemoteIterator();

  // The next batch, or std::nullopt at the end of the epoch. Errors are the
  // daemon's (NOT_FOUND once the lease expired) or DataLoss for a malformed
  // stream.
  absl::StatusOr<std::optional<Batch>> Next();

  // Starts the next epoch. Mid-epoch, the open Fetch stream is read to its
  // end first: cancelling it would make the daemon free the iterator.
  absl::Status Reset();

  // Frees the daemon-side iterator, waiting up to `deadline` (default 10 s)
  // for the daemon. Idempotent; afterwards every other call fails with
  // FailedPrecondition.
  absl::Status Close();
  absl::Status Close(std::chrono::milliseconds deadline);

  // The daemon's current sample order (NDArrayIter.idx).
  absl::StatusOr<std::vector<uint64_t>> SampleOrder();

  // The daemon's counters of this iterator: batches produced, records decoded
  // and skipped (bad records under BadRecordPolicy SKIP, with examples).
  absl::StatusOr<iterd::v1::GetIteratorStatsResponse> Stats();

  // The iterator's handle: a secret (whoever has it can fetch, reset or close
  // the iterator). Do not log it; display_id() names the iterator in messages.
  const std::string& id() const { return opened_.iterator_id(); }
  // The daemon's public name of the iterator ("it-17"), as in its log and
  // /metrics.
  const std::string& display_id() const { return opened_.display_id(); }
  const google::protobuf::RepeatedPtrField<iterd::v1::DataDesc>& provide_data()
      const {
    return opened_.provide_data();
  }
  const google::protobuf::RepeatedPtrField<iterd::v1::DataDesc>& provide_label()
      const {
    return opened_.provide_label();
  }
  int64_t batch_size() const { return opened_.batch_size(); }
  uint64_t seed() const { return opened_.seed(); }
  // -1 when the daemon cannot know before a full pass (CSV).
  int64_t num_samples() const { return opened_.num_samples(); }

  // Where the iterator stands, to keep with a checkpoint: the daemon's state
  // after the last batch Next() returned; at the end of the epoch once Next()
  // returned std::nullopt; at the start of the epoch after Reset() or open.
  // Batches the daemon sent ahead do not count, so an iterator opened from it
  // (Client::Open's `resume_from`, on any daemon) returns exactly the batches
  // this one would have returned next. Positions only, a few dozen bytes;
  // version() is 0 from a daemon older than resumable iterators. Still valid
  // after Close().
  const iterd::v1::IteratorState& state() const { return state_; }

  // Batches per Fetch call (default 2): the bound on batches in flight.
  void set_max_batches(uint32_t max_batches) {
    max_batches_ = max_batches == 0 ? 1 : max_batches;
  }
  uint32_t max_batches() const { return max_batches_; }

  // Whether the next Fetch calls ask for shared memory: the region is mapped
  // and set_shared_memory(false) was not called. Takes effect at the next
  // Fetch call. With it, the daemon caps a window to the region's slots.
  bool uses_shared_memory() const {
    return shared_memory_ != nullptr && shared_memory_enabled_;
  }
  void set_shared_memory(bool enabled) { shared_memory_enabled_ = enabled; }

 private:
  absl::Status CheckOpen() const;
  std::unique_ptr<FetchStream> StartFetch();
  // Reads the chunks of the batch whose header was just read, or copies its
  // payload out of its shared-memory slot.
  absl::StatusOr<Batch> ReadPayload(const iterd::v1::BatchHeader& header);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<iterd::v1::DataIterService::Stub> stub_;
  std::unique_ptr<grpc::GenericStub> generic_stub_;
  const iterd::v1::OpenIteratorResponse opened_;
  const FetchTransport transport_;
  std::shared_ptr<PayloadPool> pool_;
  uint32_t max_batches_ = 2;
  std::unique_ptr<SharedMemoryMapping> shared_memory_;  // Null: bytes only.
  bool shared_memory_enabled_ = true;

  std::unique_ptr<FetchStream> stream_;  // The open Fetch call, if any.
  iterd::v1::IteratorState state_;       // See state().
  bool end_of_epoch_ = false;
  bool closed_ = false;
  // Batches of this epoch returned by Next(): Reset() tells the daemon, which
  // has run ahead, so that MXNet's carry-over applies only to an epoch the
  // caller really finished.
  int64_t batches_consumed_ = 0;
};

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_REMOTE_ITERATOR_H_
