// iterd: serves MXNet-style data iterators over gRPC.
//
//   iterd --listen=127.0.0.1:0 --data_root=/data [--data_root=/more]
//   [--config=iterd.pbtxt]
//
// main() parses flags, builds the ServerConfig, checks every configured
// pipeline, runs the gRPC server and shuts it down on SIGTERM/SIGINT.

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/concurrency/thread_pool.h"
#include "common/logging.h"
#include "common/memory/allocator_tuning.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "opencv2/core/utility.hpp"
#include "server/service/iterd_service.h"
#include "server/service/path_policy.h"
#include "server/service/server_config.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "HOST:PORT to serve on; port 0 picks a free port.");
ABSL_FLAG(std::vector<std::string>, data_root, {},
          "Directory clients may read files from. Repeatable (or "
          "comma-separated); relative "
          "paths in requests are relative to the first root.");
ABSL_FLAG(
    std::string, config, "",
    "Text-format iterd.v1.ServerConfig declaring named pipelines and limits.");
ABSL_FLAG(int, idle_timeout_seconds, 0,
          "Free an iterator after this long without a call (overrides the "
          "config; default 300).");
ABSL_FLAG(int, max_iterators, 0,
          "Most open iterators (overrides the config; default 64).");
ABSL_FLAG(int, worker_threads, 0,
          "Threads shared by all pipelines (overrides the config; default: one "
          "per core).");

namespace iterd {
namespace {

constexpr int kMaxMessageBytes =
    64 << 20;  // Chunks are a few MB; uploads arrive in chunks too.

// absl keeps only the last occurrence of a repeated flag; --data_root
// accumulates instead.
std::vector<std::string> CollectDataRoots(int argc, char** argv) {
  std::vector<std::string> roots;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    std::string value;
    if (absl::StartsWith(arg, "--data_root=")) {
      value = std::string(arg.substr(12));
    } else if (arg == "--data_root" && i + 1 < argc) {
      value = argv[i + 1];
    } else {
      continue;
    }
    for (absl::string_view root :
         absl::StrSplit(value, ',', absl::SkipEmpty())) {
      roots.emplace_back(root);
    }
  }
  return roots;
}

absl::StatusOr<v1::ServerConfig> BuildConfig() {
  v1::ServerConfig config;
  if (!absl::GetFlag(FLAGS_config).empty()) {
    absl::StatusOr<v1::ServerConfig> loaded =
        service::LoadServerConfig(absl::GetFlag(FLAGS_config));
    if (!loaded.ok()) return loaded.status();
    config = *std::move(loaded);
  }
  v1::Limits* limits = config.mutable_limits();
  if (absl::GetFlag(FLAGS_idle_timeout_seconds) > 0) {
    limits->set_idle_timeout_seconds(absl::GetFlag(FLAGS_idle_timeout_seconds));
  }
  if (absl::GetFlag(FLAGS_max_iterators) > 0) {
    limits->set_max_iterators(absl::GetFlag(FLAGS_max_iterators));
  }
  if (absl::GetFlag(FLAGS_worker_threads) > 0) {
    limits->set_worker_threads(absl::GetFlag(FLAGS_worker_threads));
  }
  service::ApplyLimitDefaults(limits);
  absl::Status status = service::ValidateServerConfig(config);
  if (!status.ok()) return status;
  return config;
}

int Run(int argc, char** argv) {
  // Signals go to one thread that waits for them. Blocked before any thread
  // starts, so that every other thread (the pool's, the reaper's, gRPC's)
  // inherits the mask and leaves them alone.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Streams move GB/s through gRPC buffers of a few MB: keep freed ones in the
  // heap.
  TuneAllocatorForStreaming();
  const std::vector<std::string> roots = CollectDataRoots(argc, argv);
  absl::StatusOr<service::PathPolicy> paths =
      service::PathPolicy::Create(roots);
  if (!paths.ok()) {
    std::cerr << "iterd: " << paths.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<v1::ServerConfig> config = BuildConfig();
  if (!config.ok()) {
    std::cerr << "iterd: invalid config: " << config.status().message() << "\n";
    return 2;
  }
  int threads = config->limits().worker_threads();
  if (threads <= 0) threads = std::max(1u, std::thread::hardware_concurrency());
  ThreadPool pool(threads);
  service::IterdServiceImpl service(*config, *std::move(paths), &pool);
  for (int i = 0; i < config->pipelines_size(); ++i) {
    const v1::NamedPipeline& named = config->pipelines(i);
    absl::Status status = service.CheckPipeline(named.config());
    if (!status.ok()) {
      std::cerr << "iterd: invalid config: pipelines[" << i << "] '"
                << named.name() << "': " << status.message() << "\n";
      return 2;
    }
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "iterd: cannot listen on " << listen << "\n";
    return 2;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::cout << "iterd listening on " << host << ":" << port << std::endl;
  ITERD_LOG(INFO) << "serving " << config->pipelines_size()
                  << " named pipelines from " << absl::StrJoin(roots, ", ")
                  << " with " << threads << " worker threads";

  std::thread signal_thread([&server, &service, &signals] {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    ITERD_LOG(INFO) << "signal " << signal_number << ": shutting down";
    if (auto* health = server->GetHealthCheckService()) health->Shutdown();
    service.CancelAll();  // Blocked Fetch calls return; in-flight writes get 2
                          // s to finish.
    server->Shutdown(std::chrono::system_clock::now() +
                     std::chrono::seconds(2));
  });
  server->Wait();
  signal_thread.join();
  // Every call has ended. ~Server would now run gRPC's global teardown, which
  // waits (up to ~8 s, measured) to flush sockets of clients that stopped
  // reading; nothing is left to deliver, so the server object is deliberately
  // not destroyed. The service, registry and pool still are.
  server.release();
  ITERD_LOG(INFO) << "stopped";
  return 0;
}

}  // namespace
}  // namespace iterd

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves MXNet-style data iterators over gRPC.\n"
      "  iterd --listen=127.0.0.1:0 --data_root=DIR [--data_root=DIR ...] "
      "[--config=FILE]");
  absl::ParseCommandLine(argc, argv);
  return iterd::Run(argc, argv);
}
