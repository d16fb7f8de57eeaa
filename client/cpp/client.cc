#include "client/cpp/client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/sync_stream.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/cpp/status_convert.h"
#include "common/memory/allocator_tuning.h"
#include "common/net/loopback_address.h"
#include "common/status/status_macros.h"

namespace iterd::client {
namespace {

// Headers and config echoes are small; 64 MB leaves room for a large
// GetSampleOrder and for servers configured with big chunks.
constexpr int kMaxMessageBytes = 64 << 20;

int CountInlineArrays(const iterd::v1::OpenIterator& open) {
  if (!open.has_config() || !open.config().has_ndarray()) return 0;
  const iterd::v1::NDArrayConfig& config = open.config().ndarray();
  int count = 0;
  for (const iterd::v1::ArraySource& source : config.data()) {
    count += source.has_inline_() ? 1 : 0;
  }
  for (const iterd::v1::ArraySource& source : config.label()) {
    count += source.has_inline_() ? 1 : 0;
  }
  return count;
}

std::string ClientDescription() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat("cpp client ", host, " pid ", getpid());
}

}  // namespace

Client::Client(std::string address, ClientOptions options,
               std::shared_ptr<grpc::Channel> channel)
    : address_(std::move(address)),
      options_(options),
      wants_shared_memory_(options.shared_memory.has_value()
                               ? *options.shared_memory
                               : IsLoopbackAddress(address_)),
      channel_(std::move(channel)),
      stub_(iterd::v1::DataIterService::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(std::string address,
                                                        ClientOptions options) {
  // A process that opens a client receives batches at GB/s: keep glibc from
  // returning the per-message buffers to the kernel
  // (common/memory/allocator_tuning.h).
  TuneAllocatorForStreaming();
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
  arguments.SetMaxSendMessageSize(kMaxMessageBytes);
  // Batches arrive as 4 MB chunk messages: larger HTTP/2 frames and window than
  // the defaults (16 KB, 64 KB) cut per-frame work and window-update round
  // trips.
  arguments.SetInt("grpc.http2.max_frame_size", 4 << 20);
  arguments.SetInt("grpc.http2.lookahead_bytes", 64 << 20);
  ITERD_ASSIGN_OR_RETURN(ChannelSecurity security,
                         ResolveChannelSecurity(options.security));
  if (security.tls && !options.security.server_name.empty()) {
    arguments.SetSslTargetNameOverride(options.security.server_name);
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::experimental::CreateCustomChannelWithInterceptors(
          address, security.credentials, arguments,
          std::move(security.interceptors));
  if (!channel->WaitForConnected(
          absl::ToChronoTime(absl::Now() + options.connect_timeout))) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to iterd at ", address, " within ",
                     absl::FormatDuration(options.connect_timeout), " ",
                     ConnectionHint(security)));
  }
  return std::unique_ptr<Client>(
      new Client(std::move(address), options, std::move(channel)));
}

absl::StatusOr<std::vector<iterd::v1::PipelineInfo>> Client::ListPipelines() {
  grpc::ClientContext context;
  iterd::v1::ListPipelinesResponse response;
  ITERD_RETURN_IF_ERROR(FromGrpcStatus(stub_->ListPipelines(
      &context, iterd::v1::ListPipelinesRequest(), &response)));
  return std::vector<iterd::v1::PipelineInfo>(response.pipelines().begin(),
                                              response.pipelines().end());
}

absl::StatusOr<std::unique_ptr<RemoteIterator>> Client::Open(
    const iterd::v1::OpenIterator& open,
    absl::Span<const absl::Span<const uint8_t>> inline_arrays,
    const iterd::v1::IteratorState* resume_from) {
  const int expected = CountInlineArrays(open);
  if (expected != static_cast<int>(inline_arrays.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "OpenIterator.config.ndarray has ", expected, " inline arrays but ",
        inline_arrays.size(), " were given"));
  }
  grpc::ClientContext context;
  iterd::v1::OpenIteratorResponse response;
  std::unique_ptr<grpc::ClientWriter<iterd::v1::OpenIteratorRequest>> writer =
      stub_->OpenIterator(&context, &response);
  iterd::v1::OpenIteratorRequest request;
  *request.mutable_open() = open;
  if (request.open().client().empty()) {
    request.mutable_open()->set_client(ClientDescription());
  }
  if (wants_shared_memory_) request.mutable_open()->set_shared_memory(true);
  if (resume_from != nullptr) {
    *request.mutable_open()->mutable_resume_from() = *resume_from;
  }
  // A failed Write means the daemon already answered (e.g. a bad config);
  // Finish() below returns its status.
  bool writing = writer->Write(request);
  const size_t chunk_bytes = std::max<size_t>(1, options_.upload_chunk_bytes);
  for (size_t array = 0; writing && array < inline_arrays.size(); ++array) {
    const absl::Span<const uint8_t> bytes = inline_arrays[array];
    for (size_t offset = 0; writing && offset < bytes.size();
         offset += chunk_bytes) {
      const size_t size = std::min(chunk_bytes, bytes.size() - offset);
      iterd::v1::OpenIteratorRequest chunk;
      chunk.mutable_chunk()->set_array(static_cast<uint32_t>(array));
      chunk.mutable_chunk()->set_data(bytes.data() + offset, size);
      writing = writer->Write(chunk);
    }
  }
  if (writing) writer->WritesDone();
  ITERD_RETURN_IF_ERROR(FromGrpcStatus(writer->Finish()));
  return std::make_unique<RemoteIterator>(
      channel_, std::move(response), options_.transport, wants_shared_memory_);
}

absl::StatusOr<std::unique_ptr<RemoteIterator>> Client::OpenConfig(
    const iterd::v1::PipelineConfig& config,
    const iterd::v1::IteratorState* resume_from) {
  iterd::v1::OpenIterator open;
  *open.mutable_config() = config;
  return Open(open, {}, resume_from);
}

absl::StatusOr<std::unique_ptr<RemoteIterator>> Client::OpenNamed(
    absl::string_view name, const iterd::v1::PipelineOverrides& overrides,
    const iterd::v1::IteratorState* resume_from) {
  iterd::v1::OpenIterator open;
  open.set_name(std::string(name));
  *open.mutable_overrides() = overrides;
  return Open(open, {}, resume_from);
}

absl::StatusOr<iterd::v1::GetServerStatsResponse> Client::Stats() {
  grpc::ClientContext context;
  iterd::v1::GetServerStatsResponse response;
  ITERD_RETURN_IF_ERROR(FromGrpcStatus(stub_->GetServerStats(
      &context, iterd::v1::GetServerStatsRequest(), &response)));
  return response;
}

}  // namespace iterd::client
