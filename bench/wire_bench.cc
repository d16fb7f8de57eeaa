// wire_bench: how fast batches cross 127.0.0.1, against the raw TCP ceiling.
//
// For each dtype (uint8: 38.5 MB batches, float32: 154 MB) it measures
//   - raw TCP: length-prefixed messages of one batch's size (raw_tcp.h);
//   - the C++ client, per Fetch transport: an inline NDArray pipeline over a
//     (K,3,224,224) .npy file in the daemon's data root, batch 256, with
//     NDArrayConfig.dtype equal to the file's so the daemon only copies rows.
// Output: one `key=value` line per figure (GB/s = 1e9 bytes/s of payload),
// e.g. `tcp_uint8_GBps=2.31`, `cpp_raw_uint8_GBps=1.95`.
//
//   wire_bench --server=127.0.0.1:PORT --uint8_path=u8.npy
//       --float32_path=f32.npy

#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/raw_tcp.h"
#include "client/cpp/client.h"

ABSL_FLAG(std::string, server, "",
          "Daemon address; empty measures raw TCP only.");
ABSL_FLAG(std::string, uint8_path, "",
          "uint8 .npy of shape (K,3,224,224), as the daemon resolves it.");
ABSL_FLAG(std::string, float32_path, "",
          "float32 .npy of shape (K,3,224,224), as the daemon resolves it.");
ABSL_FLAG(std::string, dtypes, "uint8,float32", "Comma list of dtypes to run.");
ABSL_FLAG(std::string, transports, "raw,proto",
          "Comma list of client Fetch transports: raw, proto.");
ABSL_FLAG(int32_t, epochs, 6, "Timed epochs per client run (after 1 warm-up).");
ABSL_FLAG(int32_t, tcp_messages, 16, "Timed raw TCP messages per size.");
ABSL_FLAG(uint32_t, max_batches, 2, "Batches per Fetch call.");
ABSL_FLAG(int64_t, batch_size, 256, "Samples per batch.");
ABSL_FLAG(std::string, shared_memory, "auto",
          "Same-host shared memory: auto (the client's default: on for "
          "loopback addresses), on, off (measure the socket).");
ABSL_FLAG(std::string, figure_prefix, "cpp",
          "Prefix of the client figures' names (PREFIX_TRANSPORT_DTYPE_GBps); "
          "the client's TLS and token come from ITERD_TLS_CA and ITERD_TOKEN.");
ABSL_FLAG(bool, measure_tcp, true, "Also measure the raw TCP ceiling.");

namespace iterd::bench {
namespace {

using client::Batch;
using client::Client;
using client::ClientOptions;
using client::FetchTransport;
using client::RemoteIterator;

constexpr int64_t kSampleBytes = 3 * 224 * 224;

struct ClientResult {
  double gigabytes_per_second = 0;
  double cpu_seconds = 0;  // This process's user + system time.
  int64_t batches = 0;
  uint64_t bytes = 0;
};

double ProcessCpuSeconds() {
  rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Reads one epoch; adds its batches and payload bytes to `result`.
absl::Status ReadEpoch(RemoteIterator& iterator, ClientResult* result) {
  for (;;) {
    absl::StatusOr<std::optional<Batch>> batch = iterator.Next();
    if (!batch.ok()) return batch.status();
    if (!batch->has_value()) return absl::OkStatus();
    ++result->batches;
    result->bytes += (*batch)->payload->size();
  }
}

absl::StatusOr<ClientResult> MeasureClient(const std::string& server,
                                           FetchTransport transport,
                                           const std::string& path,
                                           iterd::v1::DataType dtype) {
  ClientOptions options;
  options.transport = transport;
  const std::string shared_memory = absl::GetFlag(FLAGS_shared_memory);
  if (shared_memory != "auto") options.shared_memory = shared_memory == "on";
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(server, options);
  if (!client.ok()) return client.status();
  iterd::v1::OpenIterator open;
  iterd::v1::NDArrayConfig* config = open.mutable_config()->mutable_ndarray();
  iterd::v1::ArraySource* data = config->add_data();
  data->set_name("data");
  data->set_path(path);
  config->set_batch_size(absl::GetFlag(FLAGS_batch_size));
  config->set_dtype(dtype);
  open.set_client("wire_bench");
  absl::StatusOr<std::unique_ptr<RemoteIterator>> opened =
      (*client)->Open(open);
  if (!opened.ok()) return opened.status();
  RemoteIterator& iterator = **opened;
  iterator.set_max_batches(absl::GetFlag(FLAGS_max_batches));

  ClientResult warmup;
  if (absl::Status status = ReadEpoch(iterator, &warmup); !status.ok()) {
    return status;
  }
  ClientResult result;
  const absl::Time start = absl::Now();
  const double cpu_start = ProcessCpuSeconds();
  for (int epoch = 0; epoch < absl::GetFlag(FLAGS_epochs); ++epoch) {
    if (absl::Status status = iterator.Reset(); !status.ok()) return status;
    if (absl::Status status = ReadEpoch(iterator, &result); !status.ok()) {
      return status;
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  result.gigabytes_per_second = seconds > 0 ? result.bytes / seconds / 1e9 : 0;
  if (absl::Status status = iterator.Close(); !status.ok()) return status;
  return result;
}

int Run() {
  int failures = 0;
  const std::string server = absl::GetFlag(FLAGS_server);
  const int64_t batch_size = absl::GetFlag(FLAGS_batch_size);
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_dtypes), ',', absl::SkipEmpty())) {
    const bool is_uint8 = name == "uint8";
    if (!is_uint8 && name != "float32") {
      std::fprintf(stderr, "--dtypes: unknown dtype '%s'\n",
                   std::string(name).c_str());
      return 2;
    }
    const size_t batch_bytes = batch_size * kSampleBytes * (is_uint8 ? 1 : 4);
    if (absl::GetFlag(FLAGS_measure_tcp)) {
      absl::StatusOr<TcpResult> tcp =
          MeasureLoopbackTcp(batch_bytes, absl::GetFlag(FLAGS_tcp_messages));
      if (!tcp.ok()) {
        std::fprintf(stderr, "raw tcp %s: %s\n", std::string(name).c_str(),
                     tcp.status().ToString().c_str());
        ++failures;
      } else {
        std::printf("tcp_%s_GBps=%.3f\n", std::string(name).c_str(),
                    tcp->gigabytes_per_second);
      }
    }
    const std::string path = is_uint8 ? absl::GetFlag(FLAGS_uint8_path)
                                      : absl::GetFlag(FLAGS_float32_path);
    if (server.empty() || path.empty()) continue;
    for (absl::string_view transport : absl::StrSplit(
             absl::GetFlag(FLAGS_transports), ',', absl::SkipEmpty())) {
      absl::StatusOr<ClientResult> result = MeasureClient(
          server,
          transport == "proto" ? FetchTransport::kProto : FetchTransport::kRaw,
          path, is_uint8 ? iterd::v1::UINT8 : iterd::v1::FLOAT32);
      if (!result.ok()) {
        std::fprintf(stderr, "cpp client %s %s: %s\n",
                     std::string(transport).c_str(), std::string(name).c_str(),
                     result.status().ToString().c_str());
        ++failures;
        continue;
      }
      std::printf("%s_%s_%s_GBps=%.3f\n",
                  absl::GetFlag(FLAGS_figure_prefix).c_str(),
                  std::string(transport).c_str(), std::string(name).c_str(),
                  result->gigabytes_per_second);
      std::fprintf(stderr,
                   "  (%s %s: %lld batches, %.2f GB, client %.2f CPU-s/GB)\n",
                   std::string(transport).c_str(), std::string(name).c_str(),
                   static_cast<long long>(result->batches), result->bytes / 1e9,
                   result->cpu_seconds / (result->bytes / 1e9));
    }
    std::fflush(stdout);
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace iterd::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return iterd::bench::Run();
}
