// iterd: serves MXNet-style data iterators over gRPC.
//
//   iterd --listen=127.0.0.1:0 --data_root=/data [--data_root=/more]
//   [--config=iterd.pbtxt] [--metrics_listen=127.0.0.1:9090]
//   [--tls_cert_file=F --tls_key_file=F [--tls_client_ca_file=F]]
//   [--auth_token_file=F] [--insecure]
//
// main() parses flags, builds the ServerConfig, sets up security
// (server/security/daemon_security.h: a non-loopback port needs TLS or
// tokens), checks every configured pipeline, runs the gRPC server (and the
// /metrics HTTP server) and shuts it down on SIGTERM/SIGINT: health turns
// NOT_SERVING and new opens are refused at once, running Fetch streams get up
// to --drain_seconds to finish, then whatever is left is cancelled.

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
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
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "opencv2/core/utility.hpp"
#include "server/ops/daemon_metrics.h"
#include "server/ops/http_server.h"
#include "server/security/access_policy.h"
#include "server/security/call_gate.h"
#include "server/security/daemon_security.h"
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
ABSL_FLAG(double, drain_seconds, 1,
          "On SIGTERM/SIGINT: health turns NOT_SERVING and new iterators are "
          "refused (UNAVAILABLE) at once; running Fetch streams get up to this "
          "long to finish before they are cancelled. A second signal ends the "
          "drain.");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT serving Prometheus metrics at GET /metrics (HTTP; needs a "
          "bearer token when --auth_token_file is given) and the probes "
          "/healthz and /readyz; port 0 picks a free port; empty = off.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain the gRPC port serves TLS with (with "
          "--tls_key_file). Re-read every --tls_reload_seconds.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA certificates: clients must present a certificate chaining to "
          "one of them (mutual TLS); its names are identities for the "
          "config's access rules.");
ABSL_FLAG(int, tls_reload_seconds, 10,
          "How often the TLS files are re-read; new connections get the new "
          "certificate, established ones keep theirs.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File of 'NAME TOKEN' lines: every call must carry 'authorization: "
          "Bearer TOKEN' for one of them. Re-read within a second of a "
          "change.");
ABSL_FLAG(bool, insecure, false,
          "Serve a non-loopback --listen address in plaintext without tokens "
          "(refused otherwise: anyone who reaches it could read every file "
          "under the data roots).");

namespace iterd {
namespace {

constexpr int kMaxMessageBytes =
    64 << 20;  // Chunks are a few MB; uploads arrive in chunks too.
// After the drain, what is left (writes to clients that stopped reading) gets
// this long before gRPC cuts it: keeps the whole shutdown within ~2 s by
// default.
constexpr auto kShutdownGrace = std::chrono::seconds(1);
// How often the drain checks whether Fetch streams are still running.
constexpr absl::Duration kDrainPoll = absl::Milliseconds(20);

// SIGTERM/SIGINT reach the shutdown thread through a pipe: the handler only
// writes the signal's number. A handler rather than sigwait alone: with the
// default action left in place, any thread that does not block the signals
// (one a library starts with its own mask) lets it kill the daemon instead of
// draining it, as a fresh Debian machine showed (exit -15 under the tests).
int signal_pipe_write = -1;

extern "C" void ForwardSignal(int signal_number) {
  const int saved_errno = errno;
  const char byte = static_cast<char>(signal_number);
  // Async-signal-safe; a full pipe only drops a repeated signal.
  [[maybe_unused]] const ssize_t written = write(signal_pipe_write, &byte, 1);
  errno = saved_errno;
}

// The read end of the pipe ForwardSignal writes to, or -1 (errno set).
int InstallSignalForwarding(const sigset_t& signals) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  fcntl(fds[1], F_SETFL, O_NONBLOCK);
  signal_pipe_write = fds[1];
  struct sigaction action = {};
  action.sa_handler = ForwardSignal;
  action.sa_mask = signals;
  action.sa_flags = SA_RESTART;
  for (int signal_number : {SIGTERM, SIGINT}) {
    if (sigaction(signal_number, &action, nullptr) != 0) return -1;
  }
  return fds[0];
}

// Blocks until a signal arrives, or `timeout` passes (then 0). Returns the
// signal's number.
int WaitForSignal(int signal_pipe, absl::Duration timeout) {
  pollfd ready = {signal_pipe, POLLIN, 0};
  const int timeout_ms =
      timeout == absl::InfiniteDuration()
          ? -1
          : static_cast<int>(absl::ToInt64Milliseconds(timeout));
  while (true) {
    const int polled = poll(&ready, 1, timeout_ms);
    if (polled < 0 && errno == EINTR) continue;
    if (polled <= 0) return 0;
    char byte = 0;
    if (read(signal_pipe, &byte, 1) == 1) return byte;
    if (errno != EINTR && errno != EAGAIN) return 0;
  }
}

// Waits until no Fetch stream runs, `drain` has passed, or another signal
// arrives (an impatient operator).
void Drain(const service::IterdServiceImpl& service, absl::Duration drain,
           int signal_pipe) {
  const absl::Time deadline = absl::Now() + drain;
  while (service.active_fetch_streams() > 0 && absl::Now() < deadline) {
    if (WaitForSignal(signal_pipe, kDrainPoll) > 0) {
      ITERD_LOG(INFO) << "second signal: ending the drain";
      return;
    }
  }
  if (service.active_fetch_streams() > 0) {
    ITERD_LOG(INFO) << "drain over with " << service.active_fetch_streams()
                    << " Fetch streams still running: cancelling them";
  }
}

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

// A probe endpoint: 200 "ok" while `healthy()`, else 503.
ops::HttpHandler ProbeHandler(std::function<bool()> healthy) {
  return [healthy = std::move(healthy)](const ops::HttpRequest&) {
    ops::HttpResponse response;
    if (healthy()) {
      response.body = "ok\n";
    } else {
      response.status_code = 503;
      response.body = "not serving\n";
    }
    return response;
  };
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
  // inherits the mask and is not interrupted; the shutdown thread unblocks
  // them, and the handler forwards them to it wherever they land.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const int signal_pipe = InstallSignalForwarding(signals);
  if (signal_pipe < 0) {
    std::cerr << "iterd: cannot install signal handlers: " << strerror(errno)
              << "\n";
    return 2;
  }
  // Same-host shared memory (docs/design.md): a non-dumpable process's
  // /proc/<pid>/ entries (fd/, mem, maps, ...) belong to root and ptrace needs
  // CAP_SYS_PTRACE, so another process of the daemon's uid can neither reach
  // (nor chmod back and open) a region through /proc/<pid>/fd/ nor read the
  // daemon's memory. Also means: no core dumps, and gdb/py-spy need root.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    ITERD_LOG(WARNING) << "prctl(PR_SET_DUMPABLE, 0): " << strerror(errno)
                       << ": processes of this uid can read the daemon";
  }
  // Decoding runs on the bounded pool; OpenCV's own thread pool would add a
  // thread per core per resize on top of it.
  cv::setNumThreads(1);

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
  security::SecurityFlags security_flags;
  security_flags.listen = absl::GetFlag(FLAGS_listen);
  security_flags.tls.certificate_file = absl::GetFlag(FLAGS_tls_cert_file);
  security_flags.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  security_flags.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  security_flags.tls.reload_seconds = absl::GetFlag(FLAGS_tls_reload_seconds);
  security_flags.token_file = absl::GetFlag(FLAGS_auth_token_file);
  security_flags.insecure = absl::GetFlag(FLAGS_insecure);
  absl::StatusOr<security::DaemonSecurity> security =
      security::SetUpSecurity(security_flags);
  if (!security.ok()) {
    std::cerr << "iterd: " << security.status().message() << "\n";
    return 2;
  }
  int threads = config->limits().worker_threads();
  if (threads <= 0) threads = std::max(1u, std::thread::hardware_concurrency());
  ThreadPool pool(threads);
  service::IterdServiceImpl service(
      *config, *std::move(paths), &pool,
      security::CallGate(security->tokens.get(),
                         security::AccessPolicy(*config)));
  for (int i = 0; i < config->pipelines_size(); ++i) {
    const v1::NamedPipeline& named = config->pipelines(i);
    absl::Status status = service.CheckPipeline(named.config());
    if (!status.ok()) {
      std::cerr << "iterd: invalid config: pipelines[" << i << "] '"
                << named.name() << "': " << status.message() << "\n";
      return 2;
    }
  }

  const absl::Time start_time = absl::Now();
  // True from the moment the gRPC server serves until the drain begins.
  std::atomic<bool> serving{false};
  std::unique_ptr<ops::HttpServer> metrics_server;
  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (!metrics_listen.empty()) {
    // Bound before the gRPC port so that a bad address stops the daemon
    // before it serves anything.
    absl::StatusOr<std::unique_ptr<ops::HttpServer>> started =
        ops::HttpServer::Start(
            metrics_listen,
            {{"/metrics", security::RequireBearerToken(
                              security->tokens.get(),
                              ops::MetricsHandler(&service, start_time))},
             // Open, for probes (Kubernetes' gRPC probes cannot speak TLS):
             // they tell only whether the daemon is up and serving.
             {"/healthz", ProbeHandler([] { return true; })},
             {"/readyz", ProbeHandler([&service, &serving] {
                return serving.load() && !service.Snapshot().draining;
              })}});
    if (!started.ok()) {
      std::cerr << "iterd: --metrics_listen: " << started.status().message()
                << "\n";
      return 2;
    }
    metrics_server = *std::move(started);
  }

  // The default health service reports "" SERVING once the server starts,
  // which is after every configured pipeline was checked above.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  builder.AddListeningPort(listen, security->credentials, &port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  // Each call of the sync server holds a thread (a Fetch stream, an open):
  // bounded, so hostile clients cannot make the daemon spawn threads without
  // end; calls beyond it are refused with RESOURCE_EXHAUSTED.
  grpc::ResourceQuota quota("iterd");
  quota.SetMaxThreads(service::RpcThreadLimit(config->limits()));
  builder.SetResourceQuota(quota);
  // Pings a peer that has been silent for 20 s while it has calls: a client
  // host that vanished without closing its sockets is noticed within ~30 s,
  // its streams cancelled and their iterators freed.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "iterd: cannot listen on " << listen << "\n";
    return 2;
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(v1::DataIterService::service_full_name(), true);
  }
  serving.store(true);
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::cout << "iterd listening on " << host << ":" << port << std::endl;
  if (metrics_server != nullptr) {
    // Second line: tools that read the first one keep working.
    std::cout << "iterd metrics listening on "
              << metrics_listen.substr(0, metrics_listen.rfind(':')) << ":"
              << metrics_server->port() << std::endl;
  }
  ITERD_LOG(INFO) << "serving " << config->pipelines_size()
                  << " named pipelines from " << absl::StrJoin(roots, ", ")
                  << " with " << threads << " worker threads ("
                  << security->summary << ")";

  const absl::Duration drain =
      absl::Seconds(std::max(0.0, absl::GetFlag(FLAGS_drain_seconds)));
  std::thread signal_thread(
      [&server, &service, &signals, &serving, signal_pipe, health, drain] {
        pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
        const int signal_number =
            WaitForSignal(signal_pipe, absl::InfiniteDuration());
        ITERD_LOG(INFO) << "signal " << signal_number
                        << ": shutting down (draining for up to "
                        << absl::FormatDuration(drain) << ")";
        // Every service NOT_SERVING, for good: load balancers stop sending work
        // while the server still answers.
        if (health != nullptr) health->Shutdown();
        serving.store(false);
        service.BeginDrain();
        Drain(service, drain, signal_pipe);
        service.CancelAll();  // Blocked Fetch calls return.
        server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
      });
  server->Wait();
  signal_thread.join();
  if (metrics_server != nullptr) metrics_server->Stop();
  // Every call has ended. ~Server would now run gRPC's global teardown, which
  // waits (up to ~8 s, measured) to flush sockets of clients that stopped
  // reading; nothing is left to deliver, so the server object is deliberately
  // not destroyed. The service, registry and pool still are. Held by a static
  // (volatile, so the store is not optimised away), so that a leak checker sees
  // a long-lived object rather than a lost one.
  [[maybe_unused]] static grpc::Server* volatile kept_until_exit = nullptr;
  kept_until_exit = server.release();
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
