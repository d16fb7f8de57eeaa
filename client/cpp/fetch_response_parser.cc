#include "client/cpp/fetch_response_parser.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/message_lite.h"

namespace iterd::client {
namespace {

// Wire-format field numbers of FetchResponse's oneof (service.proto).
constexpr uint64_t kHeaderField = 1;
constexpr uint64_t kChunkField = 2;
constexpr uint64_t kEndOfEpochField = 3;
constexpr uint64_t kLengthDelimited = 2;

// Sequential reads over the slices of a ByteBuffer, with bounds checks: a
// false return means the bytes ran out.
class SliceCursor final {
 public:
  explicit SliceCursor(const std::vector<grpc::Slice>* slices)
      : slices_(slices) {
    for (const grpc::Slice& slice : *slices) remaining_ += slice.size();
  }

  size_t remaining() const { return remaining_; }

  bool ReadVarint(uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t byte;
      if (!Copy(&byte, 1)) return false;
      *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  bool Copy(uint8_t* destination, size_t count) {
    if (count > remaining_) return false;
    remaining_ -= count;
    while (count > 0) {
      const grpc::Slice& slice = (*slices_)[slice_index_];
      const size_t available = slice.size() - offset_;
      const size_t take = count < available ? count : available;
      std::memcpy(destination, slice.begin() + offset_, take);
      destination += take;
      count -= take;
      offset_ += take;
      if (offset_ == slice.size()) {
        ++slice_index_;
        offset_ = 0;
      }
    }
    return true;
  }

 private:
  const std::vector<grpc::Slice>* slices_;
  size_t slice_index_ = 0;
  size_t offset_ = 0;
  size_t remaining_ = 0;
};

// Parses the next `length` bytes of `cursor` into `message`. REQUIRES: that
// many bytes remain.
absl::Status ParseField(SliceCursor& cursor, size_t length, const char* field,
                        google::protobuf::MessageLite* message) {
  std::string bytes(length, '\0');
  cursor.Copy(reinterpret_cast<uint8_t*>(bytes.data()), length);
  if (!message->ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("FetchResponse.", field, " of ",
                                            length, " bytes does not parse"));
  }
  return absl::OkStatus();
}

absl::StatusOr<FetchPart> ParseFully(const std::vector<grpc::Slice>& slices,
                                     size_t length,
                                     iterd::v1::BatchHeader* header,
                                     iterd::v1::EpochEnd* end_of_epoch,
                                     absl::Span<uint8_t> chunk_destination,
                                     size_t* chunk_bytes) {
  std::string flat(length, '\0');
  SliceCursor cursor(&slices);
  cursor.Copy(reinterpret_cast<uint8_t*>(flat.data()), length);
  iterd::v1::FetchResponse response;
  if (!response.ParseFromString(flat)) {
    return absl::DataLossError(
        absl::StrCat("FetchResponse of ", length, " bytes does not parse"));
  }
  return TakeFetchResponse(&response, header, end_of_epoch, chunk_destination,
                           chunk_bytes);
}

}  // namespace

absl::StatusOr<FetchPart> TakeFetchResponse(
    iterd::v1::FetchResponse* response, iterd::v1::BatchHeader* header,
    iterd::v1::EpochEnd* end_of_epoch, absl::Span<uint8_t> chunk_destination,
    size_t* chunk_bytes) {
  switch (response->part_case()) {
    case iterd::v1::FetchResponse::kHeader:
      header->Swap(response->mutable_header());
      return FetchPart::kHeader;
    case iterd::v1::FetchResponse::kChunk: {
      const std::string& chunk = response->chunk();
      if (chunk.size() > chunk_destination.size()) {
        return absl::DataLossError(absl::StrCat(
            "FetchResponse.chunk of ", chunk.size(), " bytes overruns the ",
            chunk_destination.size(), " bytes left of the batch payload"));
      }
      std::memcpy(chunk_destination.data(), chunk.data(), chunk.size());
      *chunk_bytes = chunk.size();
      return FetchPart::kChunk;
    }
    case iterd::v1::FetchResponse::kEndOfEpoch:
      end_of_epoch->Swap(response->mutable_end_of_epoch());
      return FetchPart::kEndOfEpoch;
    default:
      return absl::DataLossError("FetchResponse has no part set");
  }
}

absl::StatusOr<FetchPart> ParseFetchResponse(
    const grpc::ByteBuffer& buffer, iterd::v1::BatchHeader* header,
    iterd::v1::EpochEnd* end_of_epoch, absl::Span<uint8_t> chunk_destination,
    size_t* chunk_bytes) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) {
    return absl::DataLossError("FetchResponse buffer cannot be read");
  }
  SliceCursor cursor(&slices);
  const size_t length = cursor.remaining();
  uint64_t tag = 0;
  uint64_t field_length = 0;
  // The fast path needs exactly one length-delimited field filling the message.
  if (!cursor.ReadVarint(&tag) || (tag & 7) != kLengthDelimited ||
      !cursor.ReadVarint(&field_length) || field_length != cursor.remaining()) {
    return ParseFully(slices, length, header, end_of_epoch, chunk_destination,
                      chunk_bytes);
  }
  switch (tag >> 3) {
    case kChunkField:
      if (field_length > chunk_destination.size()) {
        return absl::DataLossError(absl::StrCat(
            "FetchResponse.chunk of ", field_length, " bytes overruns the ",
            chunk_destination.size(), " bytes left of the batch payload"));
      }
      cursor.Copy(chunk_destination.data(), field_length);
      *chunk_bytes = field_length;
      return FetchPart::kChunk;
    case kHeaderField: {
      absl::Status status = ParseField(cursor, field_length, "header", header);
      if (!status.ok()) return status;
      return FetchPart::kHeader;
    }
    case kEndOfEpochField: {
      absl::Status status =
          ParseField(cursor, field_length, "end_of_epoch", end_of_epoch);
      if (!status.ok()) return status;
      return FetchPart::kEndOfEpoch;
    }
    default:
      return ParseFully(slices, length, header, end_of_epoch, chunk_destination,
                        chunk_bytes);
  }
}

}  // namespace iterd::client
