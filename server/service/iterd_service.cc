#include "server/service/iterd_service.h"

#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status/exception_status.h"
#include "common/status/input_text.h"
#include "common/status/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "grpc/grpc.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "server/pipeline/factory_common.h"
#include "server/service/array_upload.h"
#include "server/service/batch_stream.h"
#include "server/service/shared_memory_pool.h"
#include "server/service/status_convert.h"

namespace iterd::service {
namespace {

// Why an open fails during the drain; says what the client should do.
constexpr absl::string_view kDrainingMessage =
    "iterd is shutting down: it no longer opens iterators (running Fetch "
    "streams may still finish); open the iterator on another daemon or retry "
    "after the restart";

// The most batches one shared-memory Fetch window streams, hence holds in the
// region until the client's next call. Slots a client never reaches cost no
// memory (the memfd is sparse), so this can exceed the usual window of 2.
constexpr uint32_t kSharedMemoryWindow = 8;

// Offers `region` to the one client that knows its token (the opener, who
// alone gets this message) and describes where to claim it.
void DescribeSharedMemory(const std::shared_ptr<SharedMemoryRegion>& region,
                          SharedMemoryHandover& handover,
                          v1::SharedMemoryRegion* message) {
  handover.Offer(region);
  message->set_handover_socket(handover.socket_name());
  message->set_token(region->token());
  message->set_slot_bytes(region->slot_bytes());
  message->set_slots(region->slots());
  message->set_data_offset(region->data_offset());
}

RegistryOptions MakeRegistryOptions(const v1::Limits& limits) {
  RegistryOptions options;
  options.max_iterators = limits.max_iterators();
  options.idle_timeout = absl::Seconds(limits.idle_timeout_seconds());
  options.max_inline_bytes = limits.max_inline_bytes();
  options.open_timeout = absl::Seconds(limits.open_timeout_seconds());
  options.max_concurrent_opens = limits.max_concurrent_opens();
  return options;
}

// Runs a call's body; an exception becomes its status (and an ERROR line).
template <typename Body>
grpc::Status Guarded(absl::string_view doing, const Body& body) {
  try {
    return body();
  } catch (...) {
    const absl::Status status = CurrentExceptionStatus(doing);
    ITERD_LOG(ERROR) << status;
    return ToGrpcStatus(status);
  }
}

// Longest client description and pipeline name accepted from a client.
constexpr size_t kMaxClientBytes = 256;
constexpr size_t kMaxPipelineNameBytes = 256;

// InvalidArgument when a client's string field is longer than `max_bytes`.
absl::Status CheckLength(absl::string_view field, absl::string_view value,
                         size_t max_bytes) {
  if (value.size() <= max_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": ", value.size(), " bytes, at most ", max_bytes, " allowed"));
}

// Position of an rpc among the service's methods, which is how the generated
// base class numbers its handlers; read from the descriptor so that a new or
// reordered rpc in service.proto cannot silently misroute calls.
int MethodIndex(absl::string_view method) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::DataIterService::service_full_name());
  const google::protobuf::MethodDescriptor* found =
      service == nullptr ? nullptr
                         : service->FindMethodByName(std::string(method));
  if (found == nullptr) {
    ITERD_LOG(FATAL) << "service.proto has no rpc " << method;
  }
  return found->index();
}

}  // namespace

template <typename Request, typename Response>
void IterdServiceImpl::ServeUnary(
    int index, const char* doing,
    grpc::Status (IterdServiceImpl::*handler)(grpc::ServerContext*,
                                              const Request*, Response*)) {
  using Streamer = grpc::ServerUnaryStreamer<grpc::ByteBuffer, Response>;
  MarkMethodStreamed(
      index,
      new grpc::internal::StreamedUnaryHandler<grpc::ByteBuffer, Response>(
          [this, doing, handler](grpc::ServerContext* context,
                                 Streamer* stream) {
            return Guarded(doing, [&] {
              absl::StatusOr<security::CallIdentity> caller =
                  gate_.Admit(*context);
              if (!caller.ok()) return ToGrpcStatus(caller.status());
              grpc::ByteBuffer raw;
              Request request;
              bool parsed = stream->Read(&raw);
              if (parsed) {
                grpc::ProtoBufferReader bytes(&raw);
                parsed = request.ParseFromZeroCopyStream(&bytes);
              }
              if (!parsed) {
                return grpc::Status(
                    grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("malformed request: not a valid ",
                                 Request::descriptor()->full_name(),
                                 " (string fields must be UTF-8)"));
              }
              Response response;
              const grpc::Status status =
                  (this->*handler)(context, &request, &response);
              if (status.ok()) stream->Write(response);
              return status;
            });
          }));
}

IterdServiceImpl::IterdServiceImpl(v1::ServerConfig config, PathPolicy paths,
                                   ThreadPool* pool, security::CallGate gate)
    : config_(std::move(config)),
      paths_(std::move(paths)),
      gate_(std::move(gate)),
      pool_(pool),
      registry_(MakeRegistryOptions(config_.limits())),
      open_timeout_message_(absl::StrCat(
          "OpenIterator did not finish within ",
          config_.limits().open_timeout_seconds(),
          " s (limits.open_timeout_seconds): send the inline arrays and end "
          "the request stream sooner; what the call reserved was released")) {
  // The split-streaming handler reads the one FetchRequest and writes raw
  // ByteBuffers: the same bytes on the wire as the generated handler, without
  // copying the batch into a message.
  MarkMethodStreamed(
      MethodIndex("Fetch"),
      new grpc::internal::SplitServerStreamingHandler<v1::FetchRequest,
                                                      grpc::ByteBuffer>(
          [this](grpc::ServerContext* context, FetchStreamer* stream) {
            return Guarded("streaming batches", [&] {
              absl::StatusOr<security::CallIdentity> caller =
                  gate_.Admit(*context);
              if (!caller.ok()) return ToGrpcStatus(caller.status());
              return FetchStream(context, stream);
            });
          }));
  ServeUnary(MethodIndex("ListPipelines"), "listing pipelines",
             &IterdServiceImpl::ListPipelines);
  ServeUnary(MethodIndex("Reset"), "resetting an iterator",
             &IterdServiceImpl::Reset);
  ServeUnary(MethodIndex("CloseIterator"), "closing an iterator",
             &IterdServiceImpl::CloseIterator);
  ServeUnary(MethodIndex("GetSampleOrder"), "reading a sample order",
             &IterdServiceImpl::GetSampleOrder);
  ServeUnary(MethodIndex("GetServerStats"), "reading server stats",
             &IterdServiceImpl::GetServerStats);
  ServeUnary(MethodIndex("GetIteratorStats"), "reading iterator stats",
             &IterdServiceImpl::GetIteratorStats);
  absl::StatusOr<std::unique_ptr<SharedMemoryHandover>> handover =
      SharedMemoryHandover::Start();
  if (handover.ok()) {
    shared_memory_handover_ = *std::move(handover);
  } else {
    ITERD_LOG(WARNING) << "no same-host shared memory: " << handover.status();
  }
}

pipeline::PipelineEnvironment IterdServiceImpl::Environment(
    const security::CallIdentity* caller) const {
  pipeline::PipelineEnvironment environment;
  const absl::Status may_read_files =
      caller == nullptr ? absl::OkStatus()
                        : gate_.policy().CheckInlineFiles(*caller);
  if (may_read_files.ok()) {
    environment.resolve_path = [this](absl::string_view path) {
      return paths_.Resolve(path);
    };
  } else {
    environment.resolve_path = [may_read_files](absl::string_view) {
      return absl::StatusOr<std::string>(may_read_files);
    };
  }
  environment.relative_name = [this](absl::string_view path) {
    return paths_.RelativeName(path);
  };
  environment.pool = pool_;
  environment.default_prefetch_buffer =
      config_.limits().default_prefetch_buffer();
  environment.max_batch_bytes = config_.limits().max_batch_bytes();
  // 0 (a config without ApplyLimitDefaults) keeps the pipeline's defaults.
  if (config_.limits().max_image_pixels() > 0) {
    environment.max_image_pixels = config_.limits().max_image_pixels();
  }
  if (config_.limits().max_npz_member_bytes() > 0) {
    environment.max_npz_member_bytes = config_.limits().max_npz_member_bytes();
  }
  return environment;
}

absl::StatusOr<v1::PipelineConfig> IterdServiceImpl::ResolveConfig(
    const v1::OpenIterator& open, const security::CallIdentity& caller) const {
  if (open.has_config()) {
    v1::PipelineConfig config = open.config();
    ITERD_RETURN_IF_ERROR(pipeline::ApplyOverrides(open.overrides(), &config));
    return config;
  }
  std::vector<std::string> names;
  for (const v1::NamedPipeline& named : config_.pipelines()) {
    if (named.name() == open.name()) {
      ITERD_RETURN_IF_ERROR(gate_.policy().CheckOpenNamed(caller, open.name()));
      v1::PipelineConfig config = named.config();
      ITERD_RETURN_IF_ERROR(
          pipeline::ApplyOverrides(open.overrides(), &config));
      return config;
    }
    if (gate_.policy().MayOpenNamed(caller, named.name())) {
      names.push_back(named.name());
    }
  }
  if (open.name().empty()) {
    return absl::InvalidArgumentError(
        "open: give a pipeline name or an inline config");
  }
  return absl::NotFoundError(absl::StrCat(
      "unknown pipeline ", QuoteInput(open.name()), "; this daemon has: ",
      names.empty() ? "(none)" : absl::StrJoin(names, ", ")));
}

absl::Status IterdServiceImpl::CheckPipeline(const v1::PipelineConfig& config) {
  ITERD_ASSIGN_OR_RETURN(std::unique_ptr<pipeline::Pipeline> opened,
                         pipeline::OpenPipeline(config, {}, Environment()));
  return opened->WaitForFirst(nullptr);
}

absl::Status IterdServiceImpl::ForClient(const absl::Status& status) const {
  return pipeline::NameFilesRelative(status, Environment());
}

grpc::Status IterdServiceImpl::ListPipelines(
    grpc::ServerContext* context, const v1::ListPipelinesRequest*,
    v1::ListPipelinesResponse* response) {
  // Admitted already (ServeUnary); asked again for the identity: only the
  // pipelines the caller may open are listed.
  absl::StatusOr<security::CallIdentity> caller = gate_.Admit(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  for (const v1::NamedPipeline& named : config_.pipelines()) {
    if (!gate_.policy().MayOpenNamed(*caller, named.name())) continue;
    v1::PipelineInfo* info = response->add_pipelines();
    info->set_name(named.name());
    info->set_description(named.description());
    *info->mutable_config() = named.config();
  }
  return grpc::Status::OK;
}

grpc::Status IterdServiceImpl::OpenIterator(
    grpc::ServerContext* context,
    grpc::ServerReader<v1::OpenIteratorRequest>* reader,
    v1::OpenIteratorResponse* response) {
  return Guarded("opening an iterator",
                 [&] { return Open(context, reader, response); });
}

grpc::Status IterdServiceImpl::Open(
    grpc::ServerContext* context,
    grpc::ServerReader<v1::OpenIteratorRequest>* reader,
    v1::OpenIteratorResponse* response) {
  absl::StatusOr<security::CallIdentity> caller = gate_.Admit(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (draining_.load()) {
    opens_refused_draining_.fetch_add(1, std::memory_order_relaxed);
    return ToGrpcStatus(absl::UnavailableError(kDrainingMessage));
  }
  // Counts against max_concurrent_opens from here on; at open_timeout the
  // reaper ends the call with DEADLINE_EXCEEDED, which also makes a Read()
  // blocked on a silent client return.
  absl::StatusOr<std::unique_ptr<OpenCall>> open_call =
      registry_.BeginOpen([this, context] {
        grpc_call_cancel_with_status(context->c_call(),
                                     GRPC_STATUS_DEADLINE_EXCEEDED,
                                     open_timeout_message_.c_str(), nullptr);
      });
  if (!open_call.ok()) return ToGrpcStatus(open_call.status());
  const OpenCall& call = **open_call;
  const auto given_up = [context, &call] {
    return context->IsCancelled() || call.timed_out();
  };
  const auto gave_up_status = [&call] {
    return ToGrpcStatus(
        call.timed_out()
            ? absl::DeadlineExceededError("the open took too long")
            : absl::CancelledError("the client cancelled the open"));
  };
  v1::OpenIteratorRequest first;
  if (!reader->Read(&first) || !first.has_open()) {
    if (given_up()) return gave_up_status();
    return ToGrpcStatus(absl::InvalidArgumentError(
        "the first OpenIteratorRequest must carry `open`"));
  }
  absl::Status status =
      CheckLength("open.client", first.open().client(), kMaxClientBytes);
  if (status.ok()) {
    status =
        CheckLength("open.name", first.open().name(), kMaxPipelineNameBytes);
  }
  if (!status.ok()) return ToGrpcStatus(status);
  absl::StatusOr<v1::PipelineConfig> config =
      ResolveConfig(first.open(), *caller);
  if (!config.ok()) return ToGrpcStatus(config.status());
  status = registry_.CheckCapacity();
  if (!status.ok()) return ToGrpcStatus(status);

  ArrayUpload upload(&registry_);
  status = upload.Begin(*config);
  v1::OpenIteratorRequest part;
  while (status.ok() && reader->Read(&part)) {
    if (!part.has_chunk()) {
      status = absl::InvalidArgumentError("only ArrayChunk may follow `open`");
      break;
    }
    status = upload.Append(part.chunk());
  }
  if (given_up()) return gave_up_status();
  absl::StatusOr<std::vector<Array>> arrays =
      status.ok() ? upload.Finish()
                  : absl::StatusOr<std::vector<Array>>(status);
  if (!arrays.ok()) return ToGrpcStatus(arrays.status());

  // A same-host client gets its batches produced in a region it maps: the
  // Batcher's pool is carved from the region's slots.
  SessionSharedMemory shared_memory;
  // Named pipelines are the operator's: only an inline config is held to the
  // caller's inline_configs permission.
  pipeline::PipelineEnvironment environment =
      Environment(first.open().has_config() ? &*caller : nullptr);
  if (first.open().has_resume_from()) {
    environment.resume_from = &first.open().resume_from();
  }
  if (first.open().shared_memory() && shared_memory_handover_ != nullptr) {
    environment.make_payload_pool = RegionPoolFactory(
        kSharedMemoryWindow, environment.max_batch_bytes, &shared_memory);
  }
  absl::StatusOr<std::unique_ptr<pipeline::Pipeline>> opened =
      pipeline::OpenPipeline(*config, *std::move(arrays), environment);
  if (!opened.ok()) return ToGrpcStatus(opened.status());
  // Bad data surfaces now, as in MXNet's constructors.
  status = (*opened)->WaitForFirst(given_up);
  if (given_up()) {
    // No more batches are produced: the one in progress finishes as the
    // pipeline is destroyed, and nothing is scheduled after it.
    (*opened)->Cancel();
    return gave_up_status();
  }
  if (!status.ok()) return ToGrpcStatus(ForClient(status));

  const pipeline::Pipeline& described = **opened;
  for (const v1::DataDesc& desc : described.provide_data()) {
    *response->add_provide_data() = desc;
  }
  for (const v1::DataDesc& desc : described.provide_label()) {
    *response->add_provide_label() = desc;
  }
  response->set_batch_size(described.batch_size());
  response->set_seed(described.seed());
  response->set_num_samples(described.num_samples());
  *response->mutable_state() = described.StartState();
  // Escaped once here: the registry logs it and counts distinct clients.
  const std::string client = EscapedInput(
      first.open().client().empty() ? context->peer() : first.open().client());
  if (draining_.load()) {  // The drain began while this open was working.
    opens_refused_draining_.fetch_add(1, std::memory_order_relaxed);
    return ToGrpcStatus(absl::UnavailableError(kDrainingMessage));
  }
  if (shared_memory.region != nullptr) {
    DescribeSharedMemory(shared_memory.region, *shared_memory_handover_,
                         response->mutable_shared_memory());
  }
  absl::StatusOr<std::shared_ptr<IteratorSession>> session =
      registry_.Add(*std::move(opened), client,
                    first.open().has_config() ? "inline" : first.open().name(),
                    upload.ReleaseReservation(), std::move(shared_memory));
  if (!session.ok()) return ToGrpcStatus(session.status());
  // The handle goes to the opener only; everything else names the iterator by
  // its display id.
  response->set_iterator_id((*session)->handle());
  response->set_display_id((*session)->display_id());
  ITERD_LOG(INFO) << "iterator " << (*session)->display_id() << " opened by "
                  << client
                  << (gate_.requires_tokens() || gate_.policy().has_rules()
                          ? " as " + caller->Describe()
                          : "")
                  << " ("
                  << (first.open().has_config() ? "inline config"
                                                : first.open().name())
                  << ")";
  return grpc::Status::OK;
}

grpc::Status IterdServiceImpl::FetchStream(grpc::ServerContext* context,
                                           FetchStreamer* stream) {
  v1::FetchRequest fetch;
  if (!stream->Read(&fetch)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no FetchRequest");
  }
  const v1::FetchRequest* request = &fetch;
  absl::StatusOr<std::shared_ptr<IteratorSession>> found =
      registry_.Find(request->iterator_id());
  if (!found.ok()) return ToGrpcStatus(found.status());
  IteratorSession& session = **found;
  if (!session.BeginStream([context] { context->TryCancel(); })) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("iterator ", session.display_id(),
                     " already has a Fetch stream running")));
  }
  active_fetch_streams_.fetch_add(1, std::memory_order_relaxed);
  // Also when an exception leaves the loop: the iterator stays usable.
  absl::Cleanup end_stream = [this, &session] {
    session.EndStream();
    active_fetch_streams_.fetch_sub(1, std::memory_order_relaxed);
  };
  // This call means the client is done with the last window's slots: their
  // buffers go back to the pipeline.
  session.ReleaseHeldBatches();
  // A same-host client asked for its batches in the iterator's region, where
  // the pipeline produced them: each goes out as its slot number and stays
  // held until the next call. The window is capped to what the region has
  // room for beyond the pipeline's own buffers.
  const bool in_region =
      request->shared_memory() && session.shared_memory() != nullptr;
  uint32_t max_batches = std::max<uint32_t>(1, request->max_batches());
  if (in_region) max_batches = std::min(max_batches, kSharedMemoryWindow);
  const size_t chunk_bytes = config_.limits().chunk_bytes();
  absl::Status status;
  bool client_gone = false;
  for (uint32_t sent = 0; sent < max_batches; ++sent) {
    std::shared_ptr<const Batch> batch;
    bool end_of_epoch = false;
    v1::IteratorState end_state;
    const absl::Time wait_start = absl::Now();
    session.SetStreamWaiting(true);
    status = session.pipeline().Next(
        &batch, &end_of_epoch, [context] { return context->IsCancelled(); },
        &end_state);
    session.SetStreamWaiting(false);
    fetch_wait_nanoseconds_.fetch_add(
        absl::ToInt64Nanoseconds(absl::Now() - wait_start),
        std::memory_order_relaxed);
    if (!status.ok()) {
      client_gone = context->IsCancelled();
      break;
    }
    if (end_of_epoch) {
      v1::FetchResponse response;
      response.mutable_end_of_epoch()->set_epoch(
          session.pipeline().last_delivered_epoch());
      response.mutable_end_of_epoch()->mutable_state()->Swap(&end_state);
      client_gone = !stream->Write(SerializeResponse(response));
      break;
    }
    // A batch outside the region (not expected: only a pipeline being shut
    // down makes heap batches) still goes out as chunks; the client handles
    // either per batch.
    const int64_t slot = in_region ? session.SlotOf(*batch) : -1;
    if (slot >= 0) session.HoldBatch(batch);
    if (slot >= 0
            ? !WriteBatchInSlot(*batch, session.pipeline().State(batch->after),
                                static_cast<uint32_t>(slot), stream)
            : !WriteBatch(batch, session.pipeline().State(batch->after),
                          chunk_bytes, stream,
                          [&session] { session.Touch(); })) {
      client_gone = true;
      break;
    }
    session.Touch();  // The client is reading.
    batches_served_.fetch_add(1, std::memory_order_relaxed);
    bytes_served_.fetch_add(batch->payload().size(), std::memory_order_relaxed);
  }
  std::move(end_stream).Invoke();
  if (client_gone) {
    // The client went away mid-stream: free its iterator now rather than at the
    // idle timeout.
    registry_.Remove(session, "its Fetch stream was cancelled",
                     /*expired=*/true);
    return grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
  }
  return ToGrpcStatus(ForClient(status));
}

grpc::Status IterdServiceImpl::Reset(grpc::ServerContext*,
                                     const v1::ResetRequest* request,
                                     v1::ResetResponse* response) {
  absl::StatusOr<std::shared_ptr<IteratorSession>> session =
      registry_.Find(request->iterator_id());
  if (!session.ok()) return ToGrpcStatus(session.status());
  std::optional<int64_t> consumed;
  if (request->has_batches_consumed()) consumed = request->batches_consumed();
  // Before the Reset waits for the producer, which may be waiting for one of
  // the held buffers; the client drained its window before resetting.
  (*session)->ReleaseHeldBatches();
  const absl::Status status =
      (*session)->pipeline().Reset(consumed, response->mutable_state());
  return ToGrpcStatus(ForClient(status));
}

grpc::Status IterdServiceImpl::CloseIterator(
    grpc::ServerContext*, const v1::CloseIteratorRequest* request,
    v1::CloseIteratorResponse*) {
  registry_.Remove(request->iterator_id(), "closed by its client",
                   /*expired=*/false);
  return grpc::Status::OK;
}

grpc::Status IterdServiceImpl::GetSampleOrder(
    grpc::ServerContext*, const v1::GetSampleOrderRequest* request,
    v1::GetSampleOrderResponse* response) {
  absl::StatusOr<std::shared_ptr<IteratorSession>> session =
      registry_.Find(request->iterator_id());
  if (!session.ok()) return ToGrpcStatus(session.status());
  absl::StatusOr<std::vector<uint64_t>> order =
      (*session)->pipeline().SampleOrder();
  if (!order.ok()) return ToGrpcStatus(order.status());
  response->mutable_order()->Add(order->begin(), order->end());
  return grpc::Status::OK;
}

grpc::Status IterdServiceImpl::GetIteratorStats(
    grpc::ServerContext*, const v1::GetIteratorStatsRequest* request,
    v1::GetIteratorStatsResponse* response) {
  absl::StatusOr<std::shared_ptr<IteratorSession>> session =
      registry_.Find(request->iterator_id());
  if (!session.ok()) return ToGrpcStatus(session.status());
  pipeline::Pipeline& pipeline = (*session)->pipeline();
  response->set_batches_produced(pipeline.batches_produced());
  const pipeline::SourceStats stats = pipeline.source_stats();
  response->set_records_decoded(stats.records_decoded);
  response->set_records_skipped(stats.records_skipped);
  for (const std::string& example : stats.skipped_examples) {
    response->add_skipped_examples(
        std::string(ForClient(absl::DataLossError(example)).message()));
  }
  return grpc::Status::OK;
}

grpc::Status IterdServiceImpl::GetServerStats(
    grpc::ServerContext*, const v1::GetServerStatsRequest*,
    v1::GetServerStatsResponse* response) {
  const RegistryStats stats = registry_.stats();
  response->set_open_iterators(stats.open_iterators);
  response->set_iterators_opened(stats.iterators_opened);
  response->set_iterators_expired(stats.iterators_expired);
  response->set_batches_served(batches_served_.load());
  response->set_bytes_served(bytes_served_.load());
  return grpc::Status::OK;
}

ServiceSnapshot IterdServiceImpl::Snapshot() {
  ServiceSnapshot snapshot;
  snapshot.registry = registry_.Snapshot();
  snapshot.batches_served = batches_served_.load(std::memory_order_relaxed);
  snapshot.bytes_served = bytes_served_.load(std::memory_order_relaxed);
  snapshot.fetch_streams_active =
      active_fetch_streams_.load(std::memory_order_relaxed);
  snapshot.fetch_wait_seconds =
      fetch_wait_nanoseconds_.load(std::memory_order_relaxed) * 1e-9;
  snapshot.opens_refused_draining =
      opens_refused_draining_.load(std::memory_order_relaxed);
  snapshot.draining = draining_.load();
  return snapshot;
}

}  // namespace iterd::service
