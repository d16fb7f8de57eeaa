#include "client/cpp/fetch_stream.h"

#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>

#include <string>
#include <utility>

#include "client/cpp/fetch_response_parser.h"
#include "client/cpp/status_convert.h"

namespace iterd::client {
namespace {

// The generated stub's reader: protobuf parses each message, then
// TakeFetchResponse copies the chunk out of the parsed string.
class ProtoFetchStream final : public FetchStream {
 public:
  ProtoFetchStream(iterd::v1::DataIterService::Stub* stub,
                   const iterd::v1::FetchRequest& request)
      : reader_(stub->Fetch(&context_, request)) {}

  ~ProtoFetchStream() override {
    if (finished_) return;
    context_.TryCancel();
    Drain().IgnoreError();
  }

  absl::StatusOr<FetchPart> Read(iterd::v1::BatchHeader* header,
                                 absl::Span<uint8_t> chunk_destination,
                                 size_t* chunk_bytes) override {
    if (finished_) return FetchPart::kStreamEnd;
    if (!reader_->Read(&response_)) {
      finished_ = true;
      absl::Status status = FromGrpcStatus(reader_->Finish());
      if (!status.ok()) return status;
      return FetchPart::kStreamEnd;
    }
    return TakeFetchResponse(&response_, header, chunk_destination,
                             chunk_bytes);
  }

  absl::Status Drain() override {
    if (finished_) return absl::OkStatus();
    while (reader_->Read(&response_)) {
    }
    finished_ = true;
    return FromGrpcStatus(reader_->Finish());
  }

 private:
  grpc::ClientContext context_;  // Outlives reader_ (declared first).
  std::unique_ptr<grpc::ClientReader<iterd::v1::FetchResponse>> reader_;
  iterd::v1::FetchResponse response_;
  bool finished_ = false;
};

// A generic call on a private completion queue. Operations are issued one at
// a time and waited for at once, which keeps this a blocking reader.
class RawFetchStream final : public FetchStream {
 public:
  RawFetchStream(grpc::GenericStub* stub,
                 const iterd::v1::FetchRequest& request) {
    call_ = stub->PrepareCall(&context_, kFetchMethod, &queue_);
    call_->StartCall(this);
    if (!Wait()) {
      Finish().IgnoreError();  // Read() reports the status.
      return;
    }
    const std::string serialized = request.SerializeAsString();
    grpc::Slice slice(serialized);
    grpc::ByteBuffer message(&slice, 1);
    call_->WriteLast(message, grpc::WriteOptions(), this);
    Wait();  // A failed write shows up as a failed Read and Finish.
  }

  ~RawFetchStream() override {
    if (!finished_) {
      context_.TryCancel();
      Drain().IgnoreError();
    }
    queue_.Shutdown();
    void* tag;
    bool ok;
    while (queue_.Next(&tag, &ok)) {
    }
  }

  absl::StatusOr<FetchPart> Read(iterd::v1::BatchHeader* header,
                                 absl::Span<uint8_t> chunk_destination,
                                 size_t* chunk_bytes) override {
    if (finished_) {
      if (!final_status_.ok()) return final_status_;
      return FetchPart::kStreamEnd;
    }
    call_->Read(&buffer_, this);
    if (!Wait()) {
      absl::Status status = Finish();
      if (!status.ok()) return status;
      return FetchPart::kStreamEnd;
    }
    absl::StatusOr<FetchPart> part =
        ParseFetchResponse(buffer_, header, chunk_destination, chunk_bytes);
    buffer_.Clear();  // Hands the slices back to gRPC now.
    return part;
  }

  absl::Status Drain() override {
    while (!finished_) {
      call_->Read(&buffer_, this);
      if (!Wait()) return Finish();
      buffer_.Clear();
    }
    return final_status_;
  }

 private:
  bool Wait() {
    void* tag;
    bool ok = false;
    queue_.Next(&tag, &ok);
    return ok;
  }

  absl::Status Finish() {
    grpc::Status status;
    call_->Finish(&status, this);
    Wait();
    finished_ = true;
    final_status_ = FromGrpcStatus(status);
    return final_status_;
  }

  grpc::ClientContext context_;
  grpc::CompletionQueue queue_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::ByteBuffer buffer_;
  bool finished_ = false;
  absl::Status final_status_;
};

}  // namespace

std::unique_ptr<FetchStream> StartProtoFetch(
    iterd::v1::DataIterService::Stub* stub,
    const iterd::v1::FetchRequest& request) {
  return std::make_unique<ProtoFetchStream>(stub, request);
}

std::unique_ptr<FetchStream> StartRawFetch(
    grpc::GenericStub* stub, const iterd::v1::FetchRequest& request) {
  return std::make_unique<RawFetchStream>(stub, request);
}

}  // namespace iterd::client
