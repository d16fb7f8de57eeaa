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
//
// SharedMemoryMapping: the client's read-only view of an iterator's same-host
// region (service.proto, SharedMemoryRegion), from which batches announced with
// a shared_memory_slot are copied. Immutable after Map(); thread-safe to read.

#ifndef ITERD_CLIENT_CPP_FETCH_STREAM_H_
#define ITERD_CLIENT_CPP_FETCH_STREAM_H_

#include <grpcpp/generic/generic_stub.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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

  // Reads the next part. For kHeader, `*header` is overwritten; for
  // kEndOfEpoch, `*end_of_epoch` (it carries the iterator's state there). For
  // kChunk, the chunk's bytes are copied to the front of `chunk_destination`
  // and `*chunk_bytes` is set; a chunk that does not fit is DataLoss. A failed
  // call returns its status (converted with FromGrpcStatus). Do not call
  // again after kStreamEnd or an error.
  virtual absl::StatusOr<FetchPart> Read(iterd::v1::BatchHeader* header,
                                         iterd::v1::EpochEnd* end_of_epoch,
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

class SharedMemoryMapping final {
 public:
  // Receives the region's read-only descriptor from the daemon's hand-over
  // socket (presenting region.token()) and maps it read-only. Null whenever
  // the region is not usable from this process (another host or network
  // namespace, a refused token, sizes that do not add up): the caller then
  // keeps the byte stream.
  static std::unique_ptr<SharedMemoryMapping> Map(
      const iterd::v1::SharedMemoryRegion& region);

  SharedMemoryMapping(const SharedMemoryMapping&) = delete;
  SharedMemoryMapping& operator=(const SharedMemoryMapping&) = delete;
  ~SharedMemoryMapping();

  // The first `bytes` bytes of slot `slot`. DataLoss when the slot does not
  // exist or is smaller.
  absl::StatusOr<absl::Span<const uint8_t>> Slot(uint32_t slot,
                                                 size_t bytes) const;

 private:
  SharedMemoryMapping(const uint8_t* base, size_t size, size_t data_offset,
                      size_t slot_bytes, uint32_t slots)
      : base_(base),
        size_(size),
        data_offset_(data_offset),
        slot_bytes_(slot_bytes),
        slots_(slots) {}

  const uint8_t* const base_;
  const size_t size_;
  const size_t data_offset_;
  const size_t slot_bytes_;
  const uint32_t slots_;
};

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_FETCH_STREAM_H_
