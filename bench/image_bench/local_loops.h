// File: bench/image_bench/local_loops.h
//
// The two in-process reference loops of the image pipeline benchmark, each
// one thread, over every record of a .rec (read through the mapped file, as
// the daemon does), doing ImageNet's training steps: decode, resize the
// shorter side to 256, random 224x224 crop, random mirror, float32 NCHW
// normalisation into the rows of a reused batch buffer:
//   - RunIterdLoop: iterd's own pieces and nothing else, the daemon's steps
//     (crop-first decode at the largest DCT scale that still covers 256, or
//     with crop_first off a full JpegDecoder decode, DefaultAugmenter,
//     SampleWriter): the ceiling for the daemon's per-thread throughput;
//   - RunOpenCvLoop: MXNet's way (cv::imdecode, cv::resize, crop, then a
//     per-pixel mirror/normalise loop like iter_image_recordio_2.cc's).
//
// Thread-compatible free functions; they own everything they allocate.

#ifndef ITERD_BENCH_IMAGE_BENCH_LOCAL_LOOPS_H_
#define ITERD_BENCH_IMAGE_BENCH_LOCAL_LOOPS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace iterd::bench {

struct TrainSteps {
  int resize = 256;
  int crop = 224;
  float mean[3] = {123.68f, 116.28f, 103.53f};  // RGB
  float std[3] = {58.395f, 57.12f, 57.375f};
  int batch_size = 64;  // Rows of the reused output buffer.
  uint64_t seed = 7;
  // RunIterdLoop decodes crop-first as the daemon does (only the rows and
  // columns the crop needs); false: the old full decode, to compare.
  bool crop_first = true;
};

struct LoopResult {
  int64_t images = 0;
  double wall_seconds = 0;
  double cpu_seconds = 0;  // This thread's CPU time.
  double ImagesPerSecond() const {
    return wall_seconds > 0 ? images / wall_seconds : 0;
  }
  double ImagesPerCpuSecond() const {
    return cpu_seconds > 0 ? images / cpu_seconds : 0;
  }
};

// One warm-up pass, then `epochs` timed passes over `rec_path`. Errors name
// the file and record (a record that does not decode fails the loop: the
// benchmark's data is known good).
absl::StatusOr<LoopResult> RunIterdLoop(const std::string& rec_path, int epochs,
                                        const TrainSteps& steps);
absl::StatusOr<LoopResult> RunOpenCvLoop(const std::string& rec_path,
                                         int epochs, const TrainSteps& steps);

// CPU time of the calling thread, in seconds.
double ThreadCpuSeconds();

}  // namespace iterd::bench

#endif  // ITERD_BENCH_IMAGE_BENCH_LOCAL_LOOPS_H_
