// augment_bench: per-image cost of the standard ImageNet train steps after
// decode on a 500x375 BGR image: DefaultAugmenter (resize shorter side to
// 256, random 224x224 crop) and SampleWriter (random mirror, BGR -> RGB,
// float32 NCHW normalisation), each timed separately and together.
//
//   bazel run -c opt //common/image/augment:augment_bench
//       -- [iterations [opencv_threads, default 1]]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <vector>

#include "common/image/augment/default_augmenter.h"
#include "common/image/augment/sample_writer.h"
#include "common/random/engine.h"
#include "common/tensor/dtype.h"

namespace {

using Clock = std::chrono::steady_clock;

double Microseconds(Clock::duration duration) {
  return std::chrono::duration<double, std::micro>(duration).count();
}

int Run(int iterations) {
  using iterd::image::DefaultAugmenter;
  using iterd::image::DefaultAugmenterParams;
  using iterd::image::SampleWriter;
  using iterd::image::SampleWriterParams;

  // A photo-like image: smooth gradients plus noise (resize cost does not
  // depend on content; this keeps the pixels from being trivially uniform).
  cv::Mat source(375, 500, CV_8UC3);
  cv::randn(source, cv::Scalar(110, 120, 130), cv::Scalar(40, 40, 40));

  DefaultAugmenterParams augment_params;
  augment_params.out_height = augment_params.out_width = 224;
  augment_params.resize = 256;
  augment_params.rand_crop = true;
  SampleWriterParams writer_params;
  writer_params.rand_mirror = true;
  const float mean[3] = {123.68f, 116.28f, 103.53f};
  const float std_dev[3] = {58.395f, 57.12f, 57.375f};
  for (int c = 0; c < 3; ++c) {
    writer_params.mean[c] = mean[c];
    writer_params.std[c] = std_dev[c];
  }
  const auto augmenter = DefaultAugmenter::Create(augment_params);
  const auto writer = SampleWriter::Create(writer_params);
  if (!augmenter.ok() || !writer.ok()) {
    std::fprintf(stderr, "bad parameters\n");
    return 1;
  }
  std::vector<float> row(3 * 224 * 224);
  const absl::Span<uint8_t> row_bytes(reinterpret_cast<uint8_t*>(row.data()),
                                      row.size() * sizeof(float));

  Clock::duration augment_time{}, write_time{};
  for (int i = -50; i < iterations; ++i) {  // 50 warm-up rounds.
    iterd::random::Engine rng(7, 0, static_cast<uint64_t>(i + 50));
    cv::Mat image = source;  // Resize makes a new buffer; source is intact.
    const Clock::time_point start = Clock::now();
    if (!augmenter->Apply(&image, &rng).ok()) return 1;
    const Clock::time_point middle = Clock::now();
    if (!writer->Write(image, &rng, row_bytes).ok()) return 1;
    const Clock::time_point end = Clock::now();
    if (i >= 0) {
      augment_time += middle - start;
      write_time += end - middle;
    }
  }
  // The writer alone on one crop that stays in cache: the loop's own cost,
  // without the cache misses of reading a freshly resized image.
  cv::Mat crop = source(cv::Rect(58, 16, 224, 224)).clone();
  Clock::duration cached_write_time{};
  for (int i = 0; i < iterations; ++i) {
    iterd::random::Engine rng(7, 1, static_cast<uint64_t>(i));
    const Clock::time_point start = Clock::now();
    if (!writer->Write(crop, &rng, row_bytes).ok()) return 1;
    cached_write_time += Clock::now() - start;
  }
  const double augment_us = Microseconds(augment_time) / iterations;
  const double write_us = Microseconds(write_time) / iterations;
  std::printf("image 500x375 BGR, %d iterations\n", iterations);
  std::printf("resize short 256 + random crop 224: %8.1f us/image\n",
              augment_us);
  std::printf("mirror + float32 NCHW normalise:    %8.1f us/image\n", write_us);
  std::printf("  (writer on a cached crop:         %8.1f us/image)\n",
              Microseconds(cached_write_time) / iterations);
  std::printf(
      "total after decode:                 %8.1f us/image "
      "(%.0f images/s per core)\n",
      augment_us + write_us, 1e6 / (augment_us + write_us));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Per-core figures: OpenCV's own worker threads would otherwise split the
  // resize across cores (the daemon parallelises across images instead).
  // Pass a second argument 0 to let OpenCV use its default thread count.
  const int opencv_threads = argc > 2 ? std::atoi(argv[2]) : 1;
  if (opencv_threads > 0) cv::setNumThreads(opencv_threads);
  std::printf("OpenCV threads: %d\n", cv::getNumThreads());
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 2000;
  return Run(iterations > 0 ? iterations : 2000);
}
