// File: client/cpp/fetch_response_parser.h
//
// Turns one FetchResponse into a FetchPart, either from a parsed message or
// straight from the serialized bytes in a grpc::ByteBuffer. The raw path reads
// the single oneof field (tag, length, bytes) and copies a chunk's bytes from
// gRPC's slices into the destination without an intermediate std::string; any
// other layout (unknown fields, several fields) falls back to a full protobuf
// parse, so it accepts exactly what protobuf accepts.
//
// Stateless functions; thread-safe.

#ifndef ITERD_CLIENT_CPP_FETCH_RESPONSE_PARSER_H_
#define ITERD_CLIENT_CPP_FETCH_RESPONSE_PARSER_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/cpp/fetch_stream.h"
#include "iterd/v1/service.pb.h"

namespace iterd::client {

// Moves the header or EpochEnd out of `response` or copies its chunk into
// `chunk_destination` (see FetchStream::Read). DataLoss for a response with no
// part or a chunk larger than the destination.
absl::StatusOr<FetchPart> TakeFetchResponse(
    iterd::v1::FetchResponse* response, iterd::v1::BatchHeader* header,
    iterd::v1::EpochEnd* end_of_epoch, absl::Span<uint8_t> chunk_destination,
    size_t* chunk_bytes);

// The same from serialized bytes. Never returns kStreamEnd.
absl::StatusOr<FetchPart> ParseFetchResponse(
    const grpc::ByteBuffer& buffer, iterd::v1::BatchHeader* header,
    iterd::v1::EpochEnd* end_of_epoch, absl::Span<uint8_t> chunk_destination,
    size_t* chunk_bytes);

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_FETCH_RESPONSE_PARSER_H_
