// File: client/cpp/sharded_iterator.h
//
// ShardedIterator: many daemons feeding many trainers, the C++ twin of the
// Python client's iterd/sharded_iter.py (whose module docstring is the
// design; both must give the same parts and counts so that C++ and Python
// trainers can be mixed in one job).
//
//   ShardedIteratorOptions options;
//   options.on_daemon_failure = DaemonFailureMode::kReassign;
//   ITERD_ASSIGN_OR_RETURN(
//       std::unique_ptr<ShardedIterator> it,
//       ShardedIterator::Create({"iterd-headless:50051"}, rank, world_size,
//                               config, options));
//   Batch batch;
//   for (;;) {
//     ITERD_ASSIGN_OR_RETURN(bool more, it->Next(&batch));
//     if (!more) break;
//     ...
//   }
//   ITERD_RETURN_IF_ERROR(it->Reset());
//
// Daemons: "host:port" entries, comma lists of them, or DNS names that expand
// to every A/AAAA record; de-duplicated and sorted numerically, so every
// trainer numbers the D daemons the same way. Parts: P = world_size * D; rank
// r opens part r * D + d on daemon d, with one fetch thread per part keeping a
// queue of kPartQueueDepth batches (sharded_iterator_parts.h), and hands
// batches out round-robin. Every trainer computes every trainer's batch count
// from the sample count N and the daemon's part formula
// (sharded_iterator_daemons.h), then pads (filler batches, pad == batch_size)
// or discards to equal counts. A failed daemon is UNAVAILABLE naming its
// address and the part (kFail), or its part is reopened with the same seeds on
// a surviving daemon, brought to the current epoch and past the batches already
// delivered (kReassign).
//
// Thread-compatible: one thread calls Next()/Reset() (MXNet's contract); the
// accessors are for that thread too. Owns its daemon connections and
// iterators; Close() or the destructor frees them. Batches stay valid after
// the iterator is gone.

#ifndef ITERD_CLIENT_CPP_SHARDED_ITERATOR_H_
#define ITERD_CLIENT_CPP_SHARDED_ITERATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "client/cpp/batch.h"
#include "client/cpp/client.h"
#include "client/cpp/payload_pool.h"
#include "client/cpp/remote_iterator.h"
#include "client/cpp/sharded_iterator_daemons.h"
#include "client/cpp/sharded_iterator_parts.h"
#include "iterd/v1/pipeline.pb.h"

namespace iterd::client {

// How unequal per-trainer batch counts are made equal.
enum class BalanceMode {
  kPad,      // Up to the largest count with filler batches (pad == batch).
  kDiscard,  // Down to the smallest count.
};

enum class DaemonFailureMode {
  kFail,      // Next()/Reset() return UNAVAILABLE naming the daemon and part.
  kReassign,  // Re-read the part from a surviving daemon.
};

struct ShardedIteratorOptions {
  // Unset: kDiscard when the parts drop their short batch
  // (last_batch_handle DISCARD of ImageIter / NDArrayIter), else kPad.
  std::optional<BalanceMode> balance;
  // Batches per trainer per epoch; needed with several trainers when N is
  // unknown before a pass (ImageRecordIter without path_imgidx).
  std::optional<int64_t> num_batches;
  DaemonFailureMode on_daemon_failure = DaemonFailureMode::kFail;
  // Batches per Fetch call of each part (RemoteIterator::set_max_batches).
  uint32_t max_batches = 2;
  ClientOptions client_options;
  // The bytes of the inline arrays of an NDArray config, as Client::Open
  // takes them. Not owned: they must outlive the iterator (a reassigned part
  // uploads them again).
  std::vector<absl::Span<const uint8_t>> inline_arrays;
};

class ShardedIterator final {
 public:
  // Opens this trainer's D parts of the inline pipeline `config`
  // (image_record, image_iter or ndarray; CSV has no parts). The config must
  // leave num_parts / part_index unset. Errors: InvalidArgument for bad
  // arguments, Unavailable naming a failed daemon and part (kFail), or the
  // daemon's error.
  static absl::StatusOr<std::unique_ptr<ShardedIterator>> Create(
      absl::Span<const std::string> addresses, int rank, int world_size,
      const iterd::v1::PipelineConfig& config,
      ShardedIteratorOptions options = ShardedIteratorOptions());

  // The same for the server-configured pipeline `pipeline_name`: its config
  // is read with ListPipelines from the first daemon that answers and opened
  // inline, since a part needs fields no override reaches (round_batch of
  // ImageRecordIter). Every daemon must declare the pipeline alike.
  static absl::StatusOr<std::unique_ptr<ShardedIterator>> CreateNamed(
      absl::Span<const std::string> addresses, int rank, int world_size,
      absl::string_view pipeline_name,
      ShardedIteratorOptions options = ShardedIteratorOptions());

  ShardedIterator(const ShardedIterator&) = delete;
  ShardedIterator& operator=(const ShardedIterator&) = delete;
  ~ShardedIterator();

  // Fills `*batch` and returns true, or returns false at the end of the
  // epoch. An error ends the epoch: it is returned again until Reset().
  absl::StatusOr<bool> Next(Batch* batch);

  // The next epoch on every part (each starts at its first record).
  absl::Status Reset();

  // Frees every part's daemon iterator. Idempotent.
  absl::Status Close();

  const std::vector<std::string>& addresses() const { return addresses_; }
  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int num_parts() const { return world_size_ * num_daemons(); }
  int num_daemons() const { return static_cast<int>(addresses_.size()); }
  int64_t epoch() const { return epoch_; }
  int64_t batch_size() const { return batch_size_; }
  // This trainer's batches per epoch; unset when unknown (one trainer, N not
  // known before a pass).
  std::optional<int64_t> batches_per_epoch() const {
    return batches_per_epoch_;
  }
  // Every trainer's natural batch count (empty when unknown or num_batches
  // was given).
  const std::vector<int64_t>& trainer_batches() const {
    return trainer_batches_;
  }
  // This trainer's part indices, in daemon order.
  std::vector<int> part_indices() const;
  // The address serving each of part_indices() now.
  std::vector<std::string> part_addresses() const;
  // Batches delivered from each daemon (addresses() order) since Create;
  // filler batches come from no daemon.
  const std::vector<int64_t>& daemon_batches() const { return daemon_batches_; }
  // Daemons given up on (kReassign).
  const std::set<std::string>& failed_daemons() const {
    return failed_daemons_;
  }
  const google::protobuf::RepeatedPtrField<iterd::v1::DataDesc>& provide_data()
      const {
    return provide_data_;
  }
  const google::protobuf::RepeatedPtrField<iterd::v1::DataDesc>& provide_label()
      const {
    return provide_label_;
  }

 private:
  // One part of this trainer: its daemon iterator and fetch thread.
  struct Part {
    Part(int part_index, int daemon) : part_index(part_index), daemon(daemon) {}
    const int part_index;
    int daemon;  // Index into addresses_: the daemon serving the part now.
    std::unique_ptr<RemoteIterator> iterator;
    std::optional<uint64_t> seed;  // From the first open: reopens use it.
    int64_t delivered = 0;         // Batches of this epoch handed out.
    bool exhausted = false;
    std::optional<Batch> first_batch;  // This epoch's (wrap-around rows).
    // Declared last, so destroyed first: joins before the iterator goes.
    PartFetcher fetcher;
  };

  ShardedIterator(std::vector<std::string> addresses,
                  std::map<std::string, std::string> host_names, int rank,
                  int world_size, iterd::v1::PipelineConfig config,
                  ShardedIteratorOptions options);

  // The client options for the daemon at `address`: with TLS, its
  // certificate is checked against the DNS name the address came from.
  static ClientOptions OptionsFor(
      const ClientOptions& options,
      const std::map<std::string, std::string>& host_names,
      const std::string& address);

  void ConnectAll();
  absl::Status OpenAll();
  absl::Status Plan();
  absl::StatusOr<std::optional<int64_t>> ProbeTotal(
      const iterd::v1::PipelineConfig& probe);
  absl::StatusOr<std::optional<std::vector<int64_t>>> PartSamples();
  absl::StatusOr<std::unique_ptr<RemoteIterator>> OpenPart(
      int daemon, int part_index, std::optional<uint64_t> seed);
  absl::StatusOr<std::unique_ptr<RemoteIterator>> Reopen(int daemon,
                                                         const Part& part,
                                                         int64_t skip);
  absl::Status Reassign(Part* part, const absl::Status& error, int64_t skip);
  absl::Status HandleError(Part* part, const absl::Status& error);
  absl::Status Failure(const Part& part, absl::string_view cause) const;
  Batch Deliver(Part* part, Batch batch);
  void StartThreads();
  void StopThreads();

  const std::vector<std::string> addresses_;
  // Address -> the DNS name it was resolved from (ResolveDaemons).
  const std::map<std::string, std::string> host_names_;
  const int rank_;
  const int world_size_;
  const iterd::v1::PipelineConfig config_;
  const ShardedIteratorOptions options_;
  bool discard_short_ = false;
  bool fill_short_ = false;
  BalanceMode balance_ = BalanceMode::kPad;

  // Null where Connect failed (the status says why).
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<absl::Status> connect_status_;
  std::vector<std::unique_ptr<Part>> parts_;
  std::shared_ptr<PayloadPool> pool_;  // Payloads of filled batches.

  std::optional<int64_t> batches_per_epoch_;
  std::vector<int64_t> trainer_batches_;
  std::vector<int64_t> daemon_batches_;
  std::set<std::string> failed_daemons_;
  google::protobuf::RepeatedPtrField<iterd::v1::DataDesc> provide_data_;
  google::protobuf::RepeatedPtrField<iterd::v1::DataDesc> provide_label_;
  int64_t batch_size_ = 0;

  int64_t epoch_ = 0;
  int64_t delivered_ = 0;             // Batches of this epoch handed out.
  int64_t cursor_ = 0;                // Round-robin position.
  std::optional<Batch> first_batch_;  // This epoch's first (filler source).
  absl::Status broken_;               // Ends the epoch until Reset().
  bool closed_ = false;
};

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_SHARDED_ITERATOR_H_
