#include "client/cpp/fetch_response_parser.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace iterd::client {
namespace {

// Serialized bytes cut into slices of `slice_size` bytes, so that tags,
// lengths and payloads straddle slice boundaries as they may on the wire.
grpc::ByteBuffer Sliced(const std::string& bytes, size_t slice_size) {
  std::vector<grpc::Slice> slices;
  for (size_t offset = 0; offset < bytes.size(); offset += slice_size) {
    slices.emplace_back(bytes.data() + offset,
                        std::min(slice_size, bytes.size() - offset));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::string ChunkResponse(const std::string& chunk) {
  iterd::v1::FetchResponse response;
  response.set_chunk(chunk);
  return response.SerializeAsString();
}

TEST(ParseFetchResponseTest, ChunkAcrossSlicesIsCopiedIntoTheDestination) {
  std::string chunk(1000, '\0');
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i);
  for (size_t slice_size : {1, 2, 7, 300, 5000}) {
    std::vector<uint8_t> destination(1200, 0xff);
    iterd::v1::BatchHeader header;
    iterd::v1::EpochEnd end_of_epoch;
    size_t chunk_bytes = 0;
    absl::StatusOr<FetchPart> part = ParseFetchResponse(
        Sliced(ChunkResponse(chunk), slice_size), &header, &end_of_epoch,
        absl::MakeSpan(destination), &chunk_bytes);
    ASSERT_TRUE(part.ok()) << part.status();
    EXPECT_EQ(*part, FetchPart::kChunk);
    ASSERT_EQ(chunk_bytes, chunk.size());
    EXPECT_EQ(std::string(destination.begin(), destination.begin() + 1000),
              chunk)
        << "slice size " << slice_size;
    EXPECT_EQ(destination[1000], 0xff);
  }
}

TEST(ParseFetchResponseTest, HeaderIsParsed) {
  iterd::v1::FetchResponse response;
  response.mutable_header()->set_pad(2);
  response.mutable_header()->set_payload_bytes(36);
  response.mutable_header()->add_data()->add_shape(3);
  response.mutable_header()->mutable_state()->set_sequence(7);
  iterd::v1::BatchHeader header;
  iterd::v1::EpochEnd end_of_epoch;
  size_t chunk_bytes = 0;
  absl::StatusOr<FetchPart> part =
      ParseFetchResponse(Sliced(response.SerializeAsString(), 3), &header,
                         &end_of_epoch, {}, &chunk_bytes);
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(*part, FetchPart::kHeader);
  EXPECT_EQ(header.pad(), 2);
  EXPECT_EQ(header.payload_bytes(), 36u);
  EXPECT_EQ(header.data(0).shape(0), 3);
  EXPECT_EQ(header.state().sequence(), 7);
}

TEST(ParseFetchResponseTest, EndOfEpochIsParsedWithItsState) {
  iterd::v1::FetchResponse response;
  response.mutable_end_of_epoch()->set_epoch(4);
  response.mutable_end_of_epoch()->mutable_state()->set_epoch(4);
  response.mutable_end_of_epoch()->mutable_state()->set_epoch_over(true);
  iterd::v1::BatchHeader header;
  iterd::v1::EpochEnd end_of_epoch;
  size_t chunk_bytes = 0;
  absl::StatusOr<FetchPart> part =
      ParseFetchResponse(Sliced(response.SerializeAsString(), 100), &header,
                         &end_of_epoch, {}, &chunk_bytes);
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(*part, FetchPart::kEndOfEpoch);
  EXPECT_EQ(end_of_epoch.SerializeAsString(),
            response.end_of_epoch().SerializeAsString());
}

TEST(ParseFetchResponseTest, ChunkLargerThanTheDestinationIsDataLoss) {
  std::vector<uint8_t> destination(10);
  iterd::v1::BatchHeader header;
  iterd::v1::EpochEnd end_of_epoch;
  size_t chunk_bytes = 0;
  absl::StatusOr<FetchPart> part = ParseFetchResponse(
      Sliced(ChunkResponse(std::string(11, 'x')), 4), &header, &end_of_epoch,
      absl::MakeSpan(destination), &chunk_bytes);
  EXPECT_EQ(part.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(part.status().message().find("overruns"), std::string::npos);
}

TEST(ParseFetchResponseTest, EmptyResponseIsDataLoss) {
  iterd::v1::BatchHeader header;
  iterd::v1::EpochEnd end_of_epoch;
  size_t chunk_bytes = 0;
  absl::StatusOr<FetchPart> part = ParseFetchResponse(
      grpc::ByteBuffer(), &header, &end_of_epoch, {}, &chunk_bytes);
  EXPECT_EQ(part.status().code(), absl::StatusCode::kDataLoss);
}

TEST(ParseFetchResponseTest, TruncatedResponseIsDataLoss) {
  const std::string bytes = ChunkResponse(std::string(50, 'x'));
  std::vector<uint8_t> destination(100);
  iterd::v1::BatchHeader header;
  iterd::v1::EpochEnd end_of_epoch;
  size_t chunk_bytes = 0;
  absl::StatusOr<FetchPart> part =
      ParseFetchResponse(Sliced(bytes.substr(0, 30), 8), &header, &end_of_epoch,
                         absl::MakeSpan(destination), &chunk_bytes);
  EXPECT_EQ(part.status().code(), absl::StatusCode::kDataLoss);
}

TEST(ParseFetchResponseTest, TwoFieldsFollowProtobufLastOneWins) {
  // Not what the daemon sends, but valid protobuf: the slow path handles it.
  iterd::v1::FetchResponse header_part;
  header_part.mutable_header()->set_pad(1);
  const std::string bytes =
      header_part.SerializeAsString() + ChunkResponse("abc");
  std::vector<uint8_t> destination(3);
  iterd::v1::BatchHeader header;
  iterd::v1::EpochEnd end_of_epoch;
  size_t chunk_bytes = 0;
  absl::StatusOr<FetchPart> part =
      ParseFetchResponse(Sliced(bytes, 5), &header, &end_of_epoch,
                         absl::MakeSpan(destination), &chunk_bytes);
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(*part, FetchPart::kChunk);
  EXPECT_EQ(std::string(destination.begin(), destination.end()), "abc");
}

TEST(TakeFetchResponseTest, EndOfEpochIsMovedOut) {
  iterd::v1::FetchResponse response;
  response.mutable_end_of_epoch()->mutable_state()->set_sequence(12);
  iterd::v1::BatchHeader header;
  iterd::v1::EpochEnd end_of_epoch;
  size_t chunk_bytes = 0;
  absl::StatusOr<FetchPart> part =
      TakeFetchResponse(&response, &header, &end_of_epoch, {}, &chunk_bytes);
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(*part, FetchPart::kEndOfEpoch);
  EXPECT_EQ(end_of_epoch.state().sequence(), 12);
}

TEST(TakeFetchResponseTest, ResponseWithNoPartIsDataLoss) {
  iterd::v1::FetchResponse response;
  iterd::v1::BatchHeader header;
  iterd::v1::EpochEnd end_of_epoch;
  size_t chunk_bytes = 0;
  absl::StatusOr<FetchPart> part =
      TakeFetchResponse(&response, &header, &end_of_epoch, {}, &chunk_bytes);
  EXPECT_EQ(part.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace iterd::client
