#include "client/cpp/fetch_stream.h"

#include <fcntl.h>
#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/cpp/fetch_response_parser.h"
#include "client/cpp/region_handover.h"
#include "client/cpp/status_convert.h"

namespace iterd::client {
namespace {

constexpr size_t kRegionTokenBytes = 16;
// The daemon answers at once; it gives a connection 1 s to send its token.
constexpr absl::Duration kHandoverTimeout = absl::Seconds(2);

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
                                 iterd::v1::EpochEnd* end_of_epoch,
                                 absl::Span<uint8_t> chunk_destination,
                                 size_t* chunk_bytes) override {
    if (finished_) return FetchPart::kStreamEnd;
    if (!reader_->Read(&response_)) {
      finished_ = true;
      absl::Status status = FromGrpcStatus(reader_->Finish());
      if (!status.ok()) return status;
      return FetchPart::kStreamEnd;
    }
    return TakeFetchResponse(&response_, header, end_of_epoch,
                             chunk_destination, chunk_bytes);
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
                                 iterd::v1::EpochEnd* end_of_epoch,
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
    absl::StatusOr<FetchPart> part = ParseFetchResponse(
        buffer_, header, end_of_epoch, chunk_destination, chunk_bytes);
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

std::unique_ptr<SharedMemoryMapping> SharedMemoryMapping::Map(
    const iterd::v1::SharedMemoryRegion& region) {
  const size_t data_offset = region.data_offset();
  const size_t slot_bytes = region.slot_bytes();
  const uint32_t slots = region.slots();
  if (region.token().size() != kRegionTokenBytes || slot_bytes == 0 ||
      slots == 0 ||
      slot_bytes >
          (std::numeric_limits<size_t>::max() / 2 - data_offset) / slots) {
    return nullptr;
  }
  const size_t size = data_offset + slot_bytes * slots;
  absl::StatusOr<int> fd = ReceiveRegionDescriptor(
      region.handover_socket(), region.token(), kHandoverTimeout);
  if (!fd.ok()) return nullptr;
  // The file must be at least as large as announced: mapping past its end
  // would turn reads into SIGBUS instead of an error.
  struct stat file = {};
  void* base = fstat(*fd, &file) == 0 && S_ISREG(file.st_mode) &&
                       file.st_size >= static_cast<off_t>(size)
                   ? mmap(nullptr, size, PROT_READ, MAP_SHARED, *fd, 0)
                   : MAP_FAILED;
  close(*fd);  // The mapping keeps the memfd alive on its own.
  if (base == MAP_FAILED) return nullptr;
  return std::unique_ptr<SharedMemoryMapping>(new SharedMemoryMapping(
      static_cast<const uint8_t*>(base), size, data_offset, slot_bytes, slots));
}

SharedMemoryMapping::~SharedMemoryMapping() {
  munmap(const_cast<uint8_t*>(base_), size_);
}

absl::StatusOr<absl::Span<const uint8_t>> SharedMemoryMapping::Slot(
    uint32_t slot, size_t bytes) const {
  if (slot >= slots_ || bytes > slot_bytes_) {
    return absl::DataLossError(
        absl::StrCat("batch in shared memory slot ", slot, " of ", bytes,
                     " bytes does not fit the region (", slots_, " slots of ",
                     slot_bytes_, " bytes)"));
  }
  return absl::Span<const uint8_t>(base_ + data_offset_ + slot * slot_bytes_,
                                   bytes);
}

}  // namespace iterd::client
