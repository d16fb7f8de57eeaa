#include "client/cpp/remote_iterator.h"

#include <grpcpp/client_context.h>

#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/cpp/status_convert.h"
#include "common/status/status_macros.h"

namespace iterd::client {
namespace {

// Idle buffers kept for reuse: enough for a caller that holds on to a batch
// or two while the next ones arrive.
constexpr size_t kFreeBuffers = 3;
constexpr std::chrono::seconds kCloseDeadline{10};
// The destructor's: it often runs at exit, where a daemon that does not answer
// must not hold the process (the lease expires at the idle timeout anyway).
constexpr std::chrono::milliseconds kDestructorCloseDeadline{1000};

}  // namespace

RemoteIterator::RemoteIterator(std::shared_ptr<grpc::Channel> channel,
                               iterd::v1::OpenIteratorResponse opened,
                               FetchTransport transport, bool use_shared_memory)
    : channel_(std::move(channel)),
      stub_(iterd::v1::DataIterService::NewStub(channel_)),
      generic_stub_(std::make_unique<grpc::GenericStub>(channel_)),
      opened_(std::move(opened)),
      transport_(transport),
      pool_(PayloadPool::Create(kFreeBuffers)),
      state_(opened_.state()) {
  if (use_shared_memory && opened_.has_shared_memory()) {
    // Null when the region is not usable from here: bytes then, silently.
    shared_memory_ = SharedMemoryMapping::Map(opened_.shared_memory());
  }
}

RemoteIterator::~RemoteIterator() {
  if (closed_) return;
  // GetState(false) does not block nor connect. Connecting, failing or shut
  // down: a CloseIterator would only wait for its deadline.
  const grpc_connectivity_state state = channel_->GetState(false);
  if (state != GRPC_CHANNEL_READY && state != GRPC_CHANNEL_IDLE) {
    closed_ = true;
    stream_.reset();  // Cancels an open Fetch.
    return;
  }
  Close(kDestructorCloseDeadline).IgnoreError();
}

absl::Status RemoteIterator::CheckOpen() const {
  if (closed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("iterator ", display_id(), " is closed"));
  }
  return absl::OkStatus();
}

std::unique_ptr<FetchStream> RemoteIterator::StartFetch() {
  iterd::v1::FetchRequest request;
  request.set_iterator_id(id());
  request.set_max_batches(max_batches_);
  request.set_shared_memory(uses_shared_memory());
  if (transport_ == FetchTransport::kRaw) {
    return StartRawFetch(generic_stub_.get(), request);
  }
  return StartProtoFetch(stub_.get(), request);
}

absl::StatusOr<std::optional<Batch>> RemoteIterator::Next() {
  ITERD_RETURN_IF_ERROR(CheckOpen());
  if (end_of_epoch_) return std::optional<Batch>();
  // A stream that ends with neither a batch nor EpochEnd would make us spin.
  bool fresh_stream_was_empty = false;
  for (;;) {
    const bool fresh = stream_ == nullptr;
    if (fresh) stream_ = StartFetch();
    iterd::v1::BatchHeader header;
    iterd::v1::EpochEnd end_of_epoch;
    size_t chunk_bytes = 0;
    absl::StatusOr<FetchPart> part =
        stream_->Read(&header, &end_of_epoch, {}, &chunk_bytes);
    if (!part.ok()) {
      stream_.reset();
      return part.status();
    }
    switch (*part) {
      case FetchPart::kStreamEnd:
        stream_.reset();
        if (fresh) {
          if (fresh_stream_was_empty) {
            return absl::DataLossError(
                absl::StrCat("Fetch on iterator ", display_id(),
                             " ended twice with neither a batch nor EpochEnd"));
          }
          fresh_stream_was_empty = true;
        }
        continue;
      case FetchPart::kEndOfEpoch: {
        end_of_epoch_ = true;
        state_.Swap(end_of_epoch.mutable_state());
        absl::Status status = stream_->Drain();
        stream_.reset();
        ITERD_RETURN_IF_ERROR(status);
        return std::optional<Batch>();
      }
      case FetchPart::kChunk:
        stream_.reset();
        return absl::DataLossError(
            absl::StrCat("Fetch on iterator ", display_id(),
                         " sent a chunk before any header"));
      case FetchPart::kHeader: {
        absl::StatusOr<Batch> batch = ReadPayload(header);
        if (!batch.ok()) {
          stream_.reset();
          return batch.status();
        }
        ++batches_consumed_;
        // Only now: a batch that failed was never the caller's.
        state_.Swap(header.mutable_state());
        return std::optional<Batch>(*std::move(batch));
      }
    }
  }
}

absl::StatusOr<Batch> RemoteIterator::ReadPayload(
    const iterd::v1::BatchHeader& header) {
  ITERD_RETURN_IF_ERROR(ValidateBatchHeader(header));
  std::shared_ptr<PayloadBuffer> payload =
      pool_->Acquire(header.payload_bytes());
  const size_t total = header.payload_bytes();
  if (header.has_shared_memory_slot()) {
    if (shared_memory_ == nullptr) {
      return absl::DataLossError(absl::StrCat(
          "batch ", header.sequence(), " of iterator ", display_id(),
          " was sent in shared memory, which this client has not mapped"));
    }
    ITERD_ASSIGN_OR_RETURN(
        absl::Span<const uint8_t> slot,
        shared_memory_->Slot(header.shared_memory_slot(), total));
    // The one copy: the slot is rewritten by the next Fetch.
    std::memcpy(payload->span().data(), slot.data(), total);
    return MakeBatch(header, std::move(payload));
  }
  size_t filled = 0;
  iterd::v1::BatchHeader unexpected_header;
  iterd::v1::EpochEnd unexpected_end;
  while (filled < total) {
    size_t chunk_bytes = 0;
    ITERD_ASSIGN_OR_RETURN(
        FetchPart part,
        stream_->Read(&unexpected_header, &unexpected_end,
                      payload->span().subspan(filled), &chunk_bytes));
    if (part != FetchPart::kChunk) {
      return absl::DataLossError(absl::StrCat(
          "batch ", header.sequence(), " of iterator ", display_id(),
          " ended after ", filled, " of its ", total, " payload bytes"));
    }
    filled += chunk_bytes;
  }
  return MakeBatch(header, std::move(payload));
}

absl::Status RemoteIterator::Reset() {
  ITERD_RETURN_IF_ERROR(CheckOpen());
  if (stream_ != nullptr) {
    absl::Status status = stream_->Drain();
    stream_.reset();
    ITERD_RETURN_IF_ERROR(status);
  }
  iterd::v1::ResetRequest request;
  request.set_iterator_id(id());
  request.set_batches_consumed(batches_consumed_);
  iterd::v1::ResetResponse response;
  grpc::ClientContext context;
  ITERD_RETURN_IF_ERROR(
      FromGrpcStatus(stub_->Reset(&context, request, &response)));
  end_of_epoch_ = false;
  batches_consumed_ = 0;
  state_.Swap(response.mutable_state());
  return absl::OkStatus();
}

absl::Status RemoteIterator::Close() {
  return Close(
      std::chrono::duration_cast<std::chrono::milliseconds>(kCloseDeadline));
}

absl::Status RemoteIterator::Close(std::chrono::milliseconds deadline) {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  // Cancelling an open stream frees the iterator at once; CloseIterator then
  // finds nothing, which it reports as OK.
  stream_.reset();
  // Batches were copied out of their slots: the mapping can go now, so the
  // region's memory is freed with the daemon's iterator, not with this object.
  shared_memory_.reset();
  iterd::v1::CloseIteratorRequest request;
  request.set_iterator_id(id());
  iterd::v1::CloseIteratorResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  return FromGrpcStatus(stub_->CloseIterator(&context, request, &response));
}

absl::StatusOr<std::vector<uint64_t>> RemoteIterator::SampleOrder() {
  ITERD_RETURN_IF_ERROR(CheckOpen());
  iterd::v1::GetSampleOrderRequest request;
  request.set_iterator_id(id());
  iterd::v1::GetSampleOrderResponse response;
  grpc::ClientContext context;
  ITERD_RETURN_IF_ERROR(
      FromGrpcStatus(stub_->GetSampleOrder(&context, request, &response)));
  return std::vector<uint64_t>(response.order().begin(),
                               response.order().end());
}

absl::StatusOr<iterd::v1::GetIteratorStatsResponse> RemoteIterator::Stats() {
  ITERD_RETURN_IF_ERROR(CheckOpen());
  iterd::v1::GetIteratorStatsRequest request;
  request.set_iterator_id(id());
  iterd::v1::GetIteratorStatsResponse response;
  grpc::ClientContext context;
  ITERD_RETURN_IF_ERROR(
      FromGrpcStatus(stub_->GetIteratorStats(&context, request, &response)));
  return response;
}

}  // namespace iterd::client
