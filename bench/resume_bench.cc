// Time to the first batch after resuming an ImageRecordIter pipeline, against
// the position resumed at (issue 12: resuming is O(1) in the position).
//
// Writes a .rec/.idx of --records small JPEG records (once, under
// --work_dir), then for each position (the first batch, a quarter, half,
// three quarters, the last batch of the epoch) builds a fresh shuffled,
// randomly cropped pipeline, restores it there and takes one batch, timing
// the restore and the batch and counting the records the source decoded. The
// ceiling is the same pipeline from its start (position 0). With the .idx the
// order is a permutation computed from (seed, epoch): nothing before the
// position is read. Without it, the byte-range order lists the record heads
// of the 64 MB chunks before the position (a header scan, no decoding).
//
// Usage: bazel run -c opt //bench:resume_bench -- [--records=100000]

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/concurrency/thread_pool.h"
#include "common/image/pack_img.h"
#include "common/recordio/writer.h"
#include "opencv2/core.hpp"
#include "server/pipeline/batcher.h"
#include "server/pipeline/image_record_source.h"

ABSL_FLAG(int64_t, records, 100000, "records in the epoch");
ABSL_FLAG(int64_t, batch_size, 64, "batch size");
ABSL_FLAG(std::string, work_dir, "/tmp/iterd-resume-bench",
          "where the .rec/.idx are written (kept for later runs)");

namespace iterd {
namespace {

using Clock = std::chrono::steady_clock;

std::string RecPath(int64_t records) {
  return absl::StrCat(absl::GetFlag(FLAGS_work_dir), "/records_", records,
                      ".rec");
}

bool WriteRecords(int64_t records) {
  const std::string rec = RecPath(records);
  const std::string idx = rec.substr(0, rec.size() - 4) + ".idx";
  if (FILE* existing = std::fopen(idx.c_str(), "r")) {
    std::fclose(existing);
    return true;
  }
  std::error_code ignored;
  std::filesystem::create_directories(absl::GetFlag(FLAGS_work_dir), ignored);
  auto writer = recordio::IndexedRecordWriter::Create(rec, idx);
  if (!writer.ok()) return false;
  cv::Mat image(40, 48, CV_8UC3);
  for (int64_t i = 0; i < records; ++i) {
    image.setTo(cv::Scalar(i % 256, (i / 256) % 256, (i * 7) % 256));
    recordio::IRHeader header;
    header.id = static_cast<uint64_t>(i);
    header.label = static_cast<float>(i % 1000);
    absl::StatusOr<std::string> record = image::PackImage(header, image);
    if (!record.ok() || !(*writer)->Write(absl::StrCat(i), *record).ok()) {
      return false;
    }
  }
  return (*writer)->Close().ok();
}

pipeline::ImageRecordSourceOptions Options(int64_t records, bool indexed) {
  pipeline::ImageRecordSourceOptions options;
  options.path_imgrec = RecPath(records);
  if (indexed) {
    options.path_imgidx =
        options.path_imgrec.substr(0, options.path_imgrec.size() - 4) + ".idx";
  }
  options.channels = 3;
  options.height = 32;
  options.width = 32;
  options.shuffle = true;
  options.seed = 1;
  options.seed_aug = 2;
  options.preprocess_threads = 2;
  options.augmenter.rand_crop = true;
  options.writer.rand_mirror = true;
  return options;
}

struct Resumed {
  double restore_ms = 0;
  double first_batch_ms = 0;
  int64_t decoded = 0;
};

Resumed ResumeAt(int64_t records, bool indexed, int64_t position,
                 ThreadPool* pool) {
  auto source =
      pipeline::ImageRecordSource::Create(Options(records, indexed), pool);
  if (!source.ok()) {
    std::fprintf(stderr, "%s\n", source.status().ToString().c_str());
    std::exit(1);
  }
  pipeline::ImageRecordSource* stats = source->get();
  auto batcher = pipeline::Batcher::Create(
      {absl::GetFlag(FLAGS_batch_size), pipeline::LastBatchPolicy::kRoundBatch},
      *std::move(source));
  StreamPosition at;
  at.epoch_started = true;
  at.source.position = position;
  Resumed resumed;
  const auto start = Clock::now();
  const absl::Status restored = (*batcher)->Restore(at);
  const auto restored_at = Clock::now();
  std::shared_ptr<Batch> batch;
  bool end = false;
  const absl::Status got = (*batcher)->GetNext(&batch, &end);
  const auto done = Clock::now();
  if (!restored.ok() || !got.ok() || end) {
    std::fprintf(stderr, "resume at %lld failed: %s %s\n",
                 static_cast<long long>(position), restored.ToString().c_str(),
                 got.ToString().c_str());
    std::exit(1);
  }
  resumed.restore_ms =
      std::chrono::duration<double, std::milli>(restored_at - start).count();
  resumed.first_batch_ms =
      std::chrono::duration<double, std::milli>(done - restored_at).count();
  resumed.decoded = stats->stats().records_decoded;
  return resumed;
}

// Reads batches from the start until the one at `position` has been taken.
Resumed ReplayTo(int64_t records, int64_t position, ThreadPool* pool) {
  pipeline::ImageRecordSourceOptions options = Options(records, true);
  auto source = pipeline::ImageRecordSource::Create(std::move(options), pool);
  pipeline::ImageRecordSource* stats = source->get();
  auto batcher = pipeline::Batcher::Create(
      {absl::GetFlag(FLAGS_batch_size), pipeline::LastBatchPolicy::kRoundBatch},
      *std::move(source));
  for (int64_t taken = 0; taken <= position;
       taken += absl::GetFlag(FLAGS_batch_size)) {
    std::shared_ptr<Batch> batch;
    bool end = false;
    if (!(*batcher)->GetNext(&batch, &end).ok() || end) break;
  }
  Resumed replay;
  replay.decoded = stats->stats().records_decoded;
  return replay;
}

int Run() {
  const int64_t records = absl::GetFlag(FLAGS_records);
  const int64_t batch_size = absl::GetFlag(FLAGS_batch_size);
  if (!WriteRecords(records)) {
    std::fprintf(stderr, "could not write %s\n", RecPath(records).c_str());
    return 1;
  }
  ThreadPool pool(2);
  const int64_t last_batch = (records - 1) / batch_size * batch_size;
  std::printf("resume_bench: %lld records, batch %lld, shuffled, rand_crop\n",
              static_cast<long long>(records),
              static_cast<long long>(batch_size));
  std::printf("%-10s %12s %12s %16s %10s\n", "order", "position", "restore ms",
              "first batch ms", "decoded");
  for (bool indexed : {true, false}) {
    for (int64_t position :
         {int64_t{0}, records / 4 / batch_size * batch_size,
          records / 2 / batch_size * batch_size,
          records * 3 / 4 / batch_size * batch_size, last_batch}) {
      // Best of three: the first run also warms the page cache.
      Resumed best;
      for (int run = 0; run < 3; ++run) {
        const Resumed resumed = ResumeAt(records, indexed, position, &pool);
        if (run == 0 || resumed.restore_ms + resumed.first_batch_ms <
                            best.restore_ms + best.first_batch_ms) {
          best = resumed;
        }
      }
      std::printf("%-10s %12lld %12.2f %16.2f %10lld\n",
                  indexed ? ".idx" : "byte range",
                  static_cast<long long>(position), best.restore_ms,
                  best.first_batch_ms, static_cast<long long>(best.decoded));
    }
  }
  // What resuming replaces: reading the epoch from its start up to the last
  // batch (what a loader without positional state replays).
  const auto start = Clock::now();
  const Resumed replay = ReplayTo(records, last_batch, &pool);
  std::printf(
      "%-10s %12lld %12s %16.2f %10lld  (replay from 0)\n", ".idx",
      static_cast<long long>(last_batch), "-",
      std::chrono::duration<double, std::milli>(Clock::now() - start).count(),
      static_cast<long long>(replay.decoded));
  return 0;
}

}  // namespace
}  // namespace iterd

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return iterd::Run();
}
