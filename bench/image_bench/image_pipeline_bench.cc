// image_pipeline_bench: ImageNet's training pipeline (decode, resize shorter
// side 256, random 224 crop, random mirror, float32 NCHW normalise) measured
// three ways in one run on the same .rec (page-cached):
//   iterd   one thread of iterd's own pieces, nothing else (the ceiling);
//   opencv  one thread of MXNet's OpenCV-only steps (cv::imdecode + resize);
//   daemon  the daemon's ImageRecordIter (batch 64) read by the C++ client
//           over gRPC, once per --threads value (preprocess_threads).
// Output: `key=value` lines, e.g. `iterd_img_s=812.3`, `daemon_t2_img_s=...`,
// `daemon_t1_vmhwm_mb=...` (the daemon's peak RSS while that iterator ran,
// from /proc/PID/status after resetting it through /proc/PID/clear_refs).
//
//   image_pipeline_bench --rec=/tmp/x/images.rec [--server=127.0.0.1:PORT
//       --daemon_rec=images.rec --daemon_pid=PID] [--threads=1,2]

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/image_bench/local_loops.h"
#include "client/cpp/client.h"

ABSL_FLAG(std::string, rec, "", "The .rec file, as this process opens it.");
ABSL_FLAG(std::string, loops, "iterd,opencv,daemon",
          "Comma list of loops to run: iterd, opencv, daemon.");
ABSL_FLAG(std::string, server, "", "Daemon address (for the daemon loop).");
ABSL_FLAG(std::string, daemon_rec, "",
          "The .rec as the daemon resolves it (relative to its data root).");
ABSL_FLAG(int32_t, daemon_pid, 0, "The daemon's pid, for its CPU and RSS.");
ABSL_FLAG(std::string, threads, "1,2", "preprocess_threads values to run.");
ABSL_FLAG(bool, shared_memory, false,
          "Daemon loops: receive batches through the daemon's same-host "
          "shared-memory region instead of the gRPC byte stream (fails if the "
          "region cannot be mapped).");
ABSL_FLAG(bool, crop_first, true,
          "iterd loop: decode only the rows/columns the crop needs, as the "
          "daemon does; --nocrop_first for the old full decode.");
ABSL_FLAG(int32_t, epochs, 3, "Timed epochs per loop (after 1 warm-up).");
ABSL_FLAG(int32_t, batch_size, 64, "Samples per batch.");
ABSL_FLAG(int32_t, prefetch_buffer, 0,
          "Batches the daemon prefetches; 0 = the server default.");
ABSL_FLAG(int32_t, server_prefetch_default, 4,
          "The server's default prefetch depth, for the RSS bound printout.");

namespace iterd::bench {
namespace {

struct DaemonResult {
  LoopResult loop;
  double daemon_cpu_seconds = 0;  // The daemon's user + system time.
  double peak_rss_mb = 0;         // VmHWM.
  double rss_file_mb = 0;         // RssFile at the end (the mapped .rec).
};

// utime + stime of `pid` in seconds, or -1.
double ProcessCpuSeconds(int pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)),
                   std::istreambuf_iterator<char>());
  // Fields after the command name (which may contain spaces) start at ") ".
  const size_t close = text.rfind(") ");
  if (close == std::string::npos) return -1;
  std::vector<std::string> fields = absl::StrSplit(text.substr(close + 2), ' ');
  uint64_t user = 0, system = 0;
  // Fields 14 and 15 of stat(5); fields[0] here is field 3.
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &user) ||
      !absl::SimpleAtoi(fields[12], &system)) {
    return -1;
  }
  return static_cast<double>(user + system) / sysconf(_SC_CLK_TCK);
}

// A "Name:   value kB" line of /proc/PID/status in MB, or -1.
double StatusMegabytes(int pid, const std::string& name) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(name + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(name.size() + 1));
    double kilobytes = -1;
    fields >> kilobytes;
    return kilobytes / 1024;
  }
  return -1;
}

absl::Status ReadEpoch(client::RemoteIterator& iterator, int64_t* images) {
  for (;;) {
    absl::StatusOr<std::optional<client::Batch>> batch = iterator.Next();
    if (!batch.ok()) return batch.status();
    if (!batch->has_value()) return absl::OkStatus();
    *images += iterator.batch_size() - (*batch)->pad;
  }
}

absl::StatusOr<DaemonResult> RunDaemon(const TrainSteps& steps, int threads) {
  const int pid = absl::GetFlag(FLAGS_daemon_pid);
  if (pid > 0) {
    // Resets VmHWM to the current RSS (Linux >= 4.0) so the peak is this
    // iterator's.
    std::ofstream(absl::StrCat("/proc/", pid, "/clear_refs")) << "5";
  }
  client::ClientOptions options;
  // Explicit either way: the client's default (shared memory on loopback)
  // would otherwise decide which transport is measured.
  options.shared_memory = absl::GetFlag(FLAGS_shared_memory);
  absl::StatusOr<std::unique_ptr<client::Client>> connected =
      client::Client::Connect(absl::GetFlag(FLAGS_server), options);
  if (!connected.ok()) return connected.status();
  v1::OpenIterator open;
  open.set_client("image_pipeline_bench");
  v1::PipelineConfig* pipeline = open.mutable_config();
  pipeline->set_prefetch_buffer(absl::GetFlag(FLAGS_prefetch_buffer));
  v1::ImageRecordConfig* config = pipeline->mutable_image_record();
  config->set_path_imgrec(absl::GetFlag(FLAGS_daemon_rec));
  for (int64_t dimension : {3, steps.crop, steps.crop}) {
    config->add_data_shape(dimension);
  }
  config->set_preprocess_threads(threads);
  config->set_batch_size(steps.batch_size);
  config->set_dtype(v1::FLOAT32);
  config->set_resize(steps.resize);
  config->set_rand_crop(true);
  config->set_rand_mirror(true);
  config->set_mean_r(steps.mean[0]);
  config->set_mean_g(steps.mean[1]);
  config->set_mean_b(steps.mean[2]);
  config->set_std_r(steps.std[0]);
  config->set_std_g(steps.std[1]);
  config->set_std_b(steps.std[2]);
  config->set_seed_aug(steps.seed);
  absl::StatusOr<std::unique_ptr<client::RemoteIterator>> opened =
      (*connected)->Open(open);
  if (!opened.ok()) return opened.status();
  client::RemoteIterator& iterator = **opened;
  if (absl::GetFlag(FLAGS_shared_memory) && !iterator.uses_shared_memory()) {
    return absl::FailedPreconditionError(
        "--shared_memory: the daemon's region could not be mapped");
  }

  int64_t warmup_images = 0;
  if (absl::Status status = ReadEpoch(iterator, &warmup_images); !status.ok()) {
    return status;
  }
  DaemonResult result;
  const absl::Time start = absl::Now();
  const double cpu_start = ThreadCpuSeconds();
  const double daemon_cpu_start = pid > 0 ? ProcessCpuSeconds(pid) : 0;
  for (int epoch = 0; epoch < absl::GetFlag(FLAGS_epochs); ++epoch) {
    if (absl::Status status = iterator.Reset(); !status.ok()) return status;
    if (absl::Status status = ReadEpoch(iterator, &result.loop.images);
        !status.ok()) {
      return status;
    }
  }
  result.loop.wall_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.loop.cpu_seconds = ThreadCpuSeconds() - cpu_start;
  if (pid > 0) {
    result.daemon_cpu_seconds = ProcessCpuSeconds(pid) - daemon_cpu_start;
    result.peak_rss_mb = StatusMegabytes(pid, "VmHWM");
    result.rss_file_mb = StatusMegabytes(pid, "RssFile");
  }
  if (absl::Status status = iterator.Close(); !status.ok()) return status;
  return result;
}

void PrintLoop(const std::string& name, const LoopResult& result) {
  std::printf("%s_img_s=%.1f\n%s_cpu_img_s=%.1f\n", name.c_str(),
              result.ImagesPerSecond(), name.c_str(),
              result.ImagesPerCpuSecond());
}

int Run() {
  TrainSteps steps;
  steps.batch_size = absl::GetFlag(FLAGS_batch_size);
  steps.crop_first = absl::GetFlag(FLAGS_crop_first);
  const int epochs = absl::GetFlag(FLAGS_epochs);
  const std::string rec = absl::GetFlag(FLAGS_rec);
  int failures = 0;
  for (absl::string_view loop :
       absl::StrSplit(absl::GetFlag(FLAGS_loops), ',', absl::SkipEmpty())) {
    if (loop == "iterd" || loop == "opencv") {
      absl::StatusOr<LoopResult> result =
          loop == "iterd" ? RunIterdLoop(rec, epochs, steps)
                          : RunOpenCvLoop(rec, epochs, steps);
      if (!result.ok()) {
        std::fprintf(stderr, "%s loop: %s\n", std::string(loop).c_str(),
                     result.status().ToString().c_str());
        ++failures;
        continue;
      }
      PrintLoop(std::string(loop), *result);
    } else if (loop == "daemon") {
      for (absl::string_view text : absl::StrSplit(absl::GetFlag(FLAGS_threads),
                                                   ',', absl::SkipEmpty())) {
        int threads = 0;
        if (!absl::SimpleAtoi(text, &threads) || threads < 1) {
          std::fprintf(stderr, "--threads: bad value '%s'\n",
                       std::string(text).c_str());
          return 2;
        }
        absl::StatusOr<DaemonResult> result = RunDaemon(steps, threads);
        if (!result.ok()) {
          std::fprintf(stderr, "daemon loop, %d threads: %s\n", threads,
                       result.status().ToString().c_str());
          ++failures;
          continue;
        }
        const std::string name = absl::StrCat("daemon_t", threads);
        PrintLoop(name, result->loop);
        if (absl::GetFlag(FLAGS_daemon_pid) > 0) {
          std::printf("%s_daemon_cpu_per_img_ms=%.3f\n", name.c_str(),
                      1e3 * result->daemon_cpu_seconds /
                          std::max<int64_t>(1, result->loop.images));
          std::printf("%s_vmhwm_mb=%.1f\n%s_rss_file_mb=%.1f\n", name.c_str(),
                      result->peak_rss_mb, name.c_str(), result->rss_file_mb);
        }
      }
      const int depth = absl::GetFlag(FLAGS_prefetch_buffer) > 0
                            ? absl::GetFlag(FLAGS_prefetch_buffer)
                            : absl::GetFlag(FLAGS_server_prefetch_default);
      std::printf(
          "batch_mb=%.1f\nprefetch_depth=%d\n",
          steps.batch_size * 3.0 * steps.crop * steps.crop * 4 / 1048576,
          depth);
    } else {
      std::fprintf(stderr, "--loops: unknown loop '%s'\n",
                   std::string(loop).c_str());
      return 2;
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace iterd::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Per-core loops: OpenCV's worker threads would otherwise split each resize
  // across cores.
  cv::setNumThreads(1);
  return iterd::bench::Run();
}
