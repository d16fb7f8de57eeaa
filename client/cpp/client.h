// File: client/cpp/client.h
//
// Client: a connection to an iterd daemon. It lists the configured pipelines,
// opens iterators (named, or inline configs with uploaded arrays) and reads
// the daemon's counters.
//
//   ITERD_ASSIGN_OR_RETURN(std::unique_ptr<Client> client,
//                          Client::Connect("127.0.0.1:7070"));
//   ITERD_ASSIGN_OR_RETURN(std::unique_ptr<RemoteIterator> it,
//                          client->OpenNamed("mnist_train"));
//
// Thread-safe: one Client may open iterators from several threads. Iterators
// share the Client's channel but not its lifetime: each may outlive it.

#ifndef ITERD_CLIENT_CPP_CLIENT_H_
#define ITERD_CLIENT_CPP_CLIENT_H_

#include <grpcpp/channel.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/cpp/channel_security.h"
#include "client/cpp/remote_iterator.h"
#include "iterd/v1/iterator_state.pb.h"
#include "iterd/v1/service.grpc.pb.h"

namespace iterd::client {

struct ClientOptions {
  FetchTransport transport = FetchTransport::kRaw;
  // Connect() fails with Unavailable if the daemon is not reachable by then.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Size of the ArrayChunk messages that upload inline arrays.
  size_t upload_chunk_bytes = 4 << 20;
  // Ask for a same-host shared-memory region per iterator (remote_iterator.h);
  // the byte stream is used whenever it cannot be mapped. Unset: try it when
  // the address is a loopback one (common/net/loopback_address.h).
  std::optional<bool> shared_memory;
  // TLS and token (channel_security.h); by default from the environment.
  ClientSecurity security;
};

class Client final {
 public:
  // Connects to "host:port" with 64 MB message limits.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      std::string address, ClientOptions options = ClientOptions());

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<std::vector<iterd::v1::PipelineInfo>> ListPipelines();

  // Opens an iterator. `inline_arrays` holds the bytes of each ArraySource
  // with an `inline` source, in NDArrayConfig order (data, then label),
  // little-endian and row-major as InlineArray.dtype/shape describe them.
  //
  // `resume_from`, unless null, opens the iterator at a saved position
  // instead of the start (it takes the place of open.resume_from): a
  // RemoteIterator::state() of an earlier iterator of the same `open` and
  // arrays, on this daemon or another, e.g. kept with a checkpoint. The first
  // Next() then returns the batch that followed it; nothing before it is
  // read. A state of another config (batch size, seed, parts, any config
  // field) is FailedPrecondition naming what differs; a damaged one is
  // InvalidArgument.
  absl::StatusOr<std::unique_ptr<RemoteIterator>> Open(
      const iterd::v1::OpenIterator& open,
      absl::Span<const absl::Span<const uint8_t>> inline_arrays = {},
      const iterd::v1::IteratorState* resume_from = nullptr);

  // Opens an inline pipeline that needs no uploaded arrays (image_record,
  // image_iter, csv, or ndarray from files), e.g. a config parsed from
  // protobuf text format:
  //   image_record { path_imgrec: "train.rec" data_shape: [3, 224, 224]
  //                  batch_size: 32 resize: 256 rand_crop: true }
  // `resume_from` as in Open().
  absl::StatusOr<std::unique_ptr<RemoteIterator>> OpenConfig(
      const iterd::v1::PipelineConfig& config,
      const iterd::v1::IteratorState* resume_from = nullptr);

  // Opens the server-configured pipeline `name`. `resume_from` as in Open().
  absl::StatusOr<std::unique_ptr<RemoteIterator>> OpenNamed(
      absl::string_view name,
      const iterd::v1::PipelineOverrides& overrides =
          iterd::v1::PipelineOverrides(),
      const iterd::v1::IteratorState* resume_from = nullptr);

  absl::StatusOr<iterd::v1::GetServerStatsResponse> Stats();

  const std::string& address() const { return address_; }
  // Whether Open asks the daemon for shared memory.
  bool wants_shared_memory() const { return wants_shared_memory_; }

 private:
  Client(std::string address, ClientOptions options,
         std::shared_ptr<grpc::Channel> channel);

  const std::string address_;
  const ClientOptions options_;
  const bool wants_shared_memory_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<iterd::v1::DataIterService::Stub> stub_;
};

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_CLIENT_H_
