// File: client/cpp/fetch_stream.h
//
// FetchStream: one Fetch call (a server stream of FetchResponse messages) seen
// as a sequence of parts: batch headers, chunk bytes, end of epoch, end of
// stream. Two transports implement it:
//   - StartProtoFetch: the generated stub; each chunk is parsed into a
//     std::string by protobuf, then copied into the batch buffer.
//   - StartRawFetch: a generic stub reading grpc::ByteBuffer; chunk bytes are
//     copied from gRPC's slices straight into the batch buffer (one copy less).
//
// Thread-compatible: one thread drives a stream. The stream always finishes
// its call (Finish), cancelling it first if it is destroyed before the end.
// Cancelling a Fetch makes the daemon free the iterator, so callers that want
// to keep the iterator Drain() instead.

#ifndef ITERD_CLIENT_CPP_FETCH_STREAM_H_
#define ITERD_CLIENT_CPP_FETCH_STREAM_H_

#include <grpcpp/generic/generic_stub.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "iterd/v1/service.grpc.pb.h"

namespace iterd::client {

enum class FetchPart {
  kHeader,      // A BatchHeader: chunks of its payload follow.
  kChunk,       // Payload bytes.
  kEndOfEpoch,  // The epoch is over; Reset starts the next one.
  kStreamEnd,   // The call finished OK (after max_batches batches).
};

// Full method name, for the generic stub.
inline constexpr char kFetchMethod[] = "/iterd.v1.DataIterService/Fetch";

class FetchStream {
 public:
  virtual ~FetchStream() = default;

  // Reads the next part. For kHeader, `*header` is overwritten. For kChunk,
  // the chunk's bytes are copied to the front of `chunk_destination` and
  // `*chunk_bytes` is set; a chunk that does not fit is DataLoss. A failed
  // call returns its status (converted with FromGrpcStatus). Do not call
  // again after kStreamEnd or an error.
  virtual absl::StatusOr<FetchPart> Read(iterd::v1::BatchHeader* header,
                                         absl::Span<uint8_t> chunk_destination,
                                         size_t* chunk_bytes) = 0;

  // Reads and discards the rest of the stream, then returns the call's
  // status. Keeps the iterator alive, unlike cancelling.
  virtual absl::Status Drain() = 0;
};

std::unique_ptr<FetchStream> StartProtoFetch(
    iterd::v1::DataIterService::Stub* stub,
    const iterd::v1::FetchRequest& request);

std::unique_ptr<FetchStream> StartRawFetch(
    grpc::GenericStub* stub, const iterd::v1::FetchRequest& request);

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_FETCH_STREAM_H_
