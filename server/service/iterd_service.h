// File: server/service/iterd_service.h
//
// IterdServiceImpl: the DataIterService (proto/iterd/v1/service.proto) over the
// sync gRPC API. No exception leaves a call: std::bad_alloc becomes
// RESOURCE_EXHAUSTED, anything else INTERNAL, each with a message. Each method
// unpacks its request, calls the registry or the
// pipeline factory, and converts the result; a Fetch stream runs on its own
// gRPC thread and reads top to bottom: take the next batch from the iterator's
// prefetcher, write its header and chunks.
//
// Shutdown is two-step: BeginDrain() refuses new iterators (UNAVAILABLE) while
// running Fetch streams go on; CancelAll() then ends whatever is left.
//
// Thread-safe.

#ifndef ITERD_SERVER_SERVICE_ITERD_SERVICE_H_
#define ITERD_SERVER_SERVICE_ITERD_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/concurrency/thread_pool.h"
#include "iterd/v1/server_config.pb.h"
#include "iterd/v1/service.grpc.pb.h"
#include "server/security/call_gate.h"
#include "server/service/batch_stream.h"
#include "server/service/iterator_registry.h"
#include "server/service/path_policy.h"
#include "server/service/shared_memory_handover.h"

namespace iterd::service {

// What /metrics reports about the service (server/ops/daemon_metrics.h).
struct ServiceSnapshot {
  RegistrySnapshot registry;
  int64_t batches_served = 0;
  uint64_t bytes_served = 0;
  int64_t fetch_streams_active = 0;
  // Time Fetch streams spent waiting for their prefetcher: high when the
  // pipelines, not the clients, are the bottleneck.
  double fetch_wait_seconds = 0;
  int64_t opens_refused_draining = 0;
  bool draining = false;
};

class IterdServiceImpl final : public v1::DataIterService::Service {
 public:
  // `config` must be validated with limits defaulted (server_config.h). `pool`
  // outlives this. Every call passes `gate` first (server/security): the
  // default admits everyone.
  IterdServiceImpl(v1::ServerConfig config, PathPolicy paths, ThreadPool* pool,
                   security::CallGate gate = security::CallGate());

  grpc::Status ListPipelines(grpc::ServerContext* context,
                             const v1::ListPipelinesRequest* request,
                             v1::ListPipelinesResponse* response) override;
  grpc::Status OpenIterator(grpc::ServerContext* context,
                            grpc::ServerReader<v1::OpenIteratorRequest>* reader,
                            v1::OpenIteratorResponse* response) override;
  // Fetch is served by FetchStream (registered in the constructor) so that
  // batches go out as ByteBuffers that share the batch payload; see
  // batch_stream.h.
  grpc::Status FetchStream(grpc::ServerContext* context, FetchStreamer* stream);
  grpc::Status Reset(grpc::ServerContext* context,
                     const v1::ResetRequest* request,
                     v1::ResetResponse* response) override;
  grpc::Status CloseIterator(grpc::ServerContext* context,
                             const v1::CloseIteratorRequest* request,
                             v1::CloseIteratorResponse* response) override;
  grpc::Status GetSampleOrder(grpc::ServerContext* context,
                              const v1::GetSampleOrderRequest* request,
                              v1::GetSampleOrderResponse* response) override;
  grpc::Status GetIteratorStats(
      grpc::ServerContext* context, const v1::GetIteratorStatsRequest* request,
      v1::GetIteratorStatsResponse* response) override;
  grpc::Status GetServerStats(grpc::ServerContext* context,
                              const v1::GetServerStatsRequest* request,
                              v1::GetServerStatsResponse* response) override;

  // Opens a pipeline as a client would (used at start-up to check the
  // configured pipelines).
  absl::Status CheckPipeline(const v1::PipelineConfig& config);

  // Daemon shutdown, step 1: from now on OpenIterator fails with UNAVAILABLE;
  // Fetch streams (new ones too) are still served.
  void BeginDrain() { draining_.store(true); }
  // Fetch streams running now (the drain waits for these).
  int64_t active_fetch_streams() const {
    return active_fetch_streams_.load(std::memory_order_relaxed);
  }
  // Daemon shutdown, step 2: every blocked Fetch returns.
  void CancelAll() { registry_.CancelAll(); }

  ServiceSnapshot Snapshot();

 private:
  // Serves unary method number `index` of service.proto through `handler`,
  // parsing the request itself: a malformed request (bad bytes, a string
  // that is not UTF-8) gets INVALID_ARGUMENT with a message, where gRPC's own
  // parsing answers INTERNAL with none. Exceptions become statuses.
  template <typename Request, typename Response>
  void ServeUnary(int index, const char* doing,
                  grpc::Status (IterdServiceImpl::*handler)(
                      grpc::ServerContext*, const Request*, Response*));
  grpc::Status Open(grpc::ServerContext* context,
                    grpc::ServerReader<v1::OpenIteratorRequest>* reader,
                    v1::OpenIteratorResponse* response);
  // The open's pipeline, if `caller` may open it: a named pipeline its
  // access rule lists, or an inline config (which reads files only if the
  // rule allows inline_configs; see Environment()).
  absl::StatusOr<v1::PipelineConfig> ResolveConfig(
      const v1::OpenIterator& open, const security::CallIdentity& caller) const;
  // What a pipeline may use; for an inline config of `caller` without
  // inline_configs, a path resolver that refuses every file, so the config
  // reads nothing under the data roots (null: the operator's own pipelines).
  pipeline::PipelineEnvironment Environment(
      const security::CallIdentity* caller = nullptr) const;
  // A pipeline error as its client sees it. The readers name the files they
  // opened by absolute path, and errors of the first batch, of Fetch and of
  // Reset (and the skipped-record examples) arrive after the open's own net:
  // files under a data root are named relative to it (never the root's
  // location), control bytes escaped, the message bounded.
  absl::Status ForClient(const absl::Status& status) const;

  const v1::ServerConfig config_;
  const PathPolicy paths_;
  const security::CallGate gate_;
  ThreadPool* const pool_;
  IteratorRegistry registry_;
  // What a client whose open outlived limits.open_timeout_seconds is told.
  const std::string open_timeout_message_;
  // Hot-path counters: relaxed atomics, no lock per batch.
  std::atomic<int64_t> batches_served_{0};
  std::atomic<uint64_t> bytes_served_{0};
  std::atomic<int64_t> active_fetch_streams_{0};
  std::atomic<int64_t> fetch_wait_nanoseconds_{0};
  std::atomic<int64_t> opens_refused_draining_{0};
  std::atomic<bool> draining_{false};
  // Hands regions to their clients; null (no shared memory) if it could not
  // start. Declared last, so its thread stops before anything else goes.
  std::unique_ptr<SharedMemoryHandover> shared_memory_handover_;
};

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_ITERD_SERVICE_H_
