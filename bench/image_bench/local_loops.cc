#include "bench/image_bench/local_loops.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/image/augment/crop_first.h"
#include "common/image/augment/default_augmenter.h"
#include "common/image/augment/sample_writer.h"
#include "common/image/jpeg_decoder.h"
#include "common/random/engine.h"
#include "common/recordio/irheader.h"
#include "common/recordio/reader.h"
#include "common/status/status_macros.h"

namespace iterd::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Processes one record's image payload into `row` (C*H*W float32 bytes);
// `engine` is that sample's random state.
using SampleFunction = std::function<absl::Status(
    absl::string_view jpeg, random::Engine* engine, absl::Span<uint8_t> row)>;

// One pass over the .rec, each record's payload through `process`, rows
// written round-robin into `batch` (so the output stays the size of a batch,
// as in the daemon, rather than one hot row in cache).
absl::Status RunPass(const std::string& rec_path, uint64_t seed, int epoch,
                     const SampleFunction& process, std::vector<float>* batch,
                     int64_t row_floats, int64_t* images) {
  ITERD_ASSIGN_OR_RETURN(std::unique_ptr<recordio::RecordReader> reader,
                         recordio::RecordReader::Open(rec_path));
  const int64_t rows = static_cast<int64_t>(batch->size()) / row_floats;
  for (int64_t index = 0;; ++index) {
    absl::string_view record;
    bool end_of_data = false;
    ITERD_RETURN_IF_ERROR(reader->Next(&record, &end_of_data));
    if (end_of_data) return absl::OkStatus();
    absl::string_view payload;
    ITERD_ASSIGN_OR_RETURN(recordio::IRHeader header,
                           recordio::UnpackRecord(record, &payload));
    (void)header;
    random::Engine engine(seed, static_cast<uint64_t>(epoch),
                          static_cast<uint64_t>(index));
    float* row = batch->data() + (index % rows) * row_floats;
    absl::Status status = process(
        payload, &engine,
        absl::MakeSpan(reinterpret_cast<uint8_t*>(row),
                       static_cast<size_t>(row_floats) * sizeof(float)));
    if (!status.ok()) {
      return absl::DataLossError(
          absl::StrCat(rec_path, ": record ", index, ": ", status.message()));
    }
    ++*images;
  }
}

absl::StatusOr<LoopResult> RunLoop(const std::string& rec_path, int epochs,
                                   const TrainSteps& steps,
                                   const SampleFunction& process) {
  const int64_t row_floats = int64_t{3} * steps.crop * steps.crop;
  std::vector<float> batch(static_cast<size_t>(row_floats * steps.batch_size));
  int64_t warmup_images = 0;
  ITERD_RETURN_IF_ERROR(RunPass(rec_path, steps.seed, 0, process, &batch,
                                row_floats, &warmup_images));
  LoopResult result;
  const Clock::time_point start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    ITERD_RETURN_IF_ERROR(RunPass(rec_path, steps.seed, epoch, process, &batch,
                                  row_floats, &result.images));
  }
  result.cpu_seconds = ThreadCpuSeconds() - cpu_start;
  result.wall_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace

double ThreadCpuSeconds() {
  timespec now = {};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec + now.tv_nsec / 1e9;
}

absl::StatusOr<LoopResult> RunIterdLoop(const std::string& rec_path, int epochs,
                                        const TrainSteps& steps) {
  image::DefaultAugmenterParams augment_params;
  augment_params.out_height = augment_params.out_width = steps.crop;
  augment_params.resize = steps.resize;
  augment_params.rand_crop = true;
  image::SampleWriterParams writer_params;
  writer_params.rand_mirror = true;
  for (int c = 0; c < 3; ++c) {
    writer_params.mean[c] = steps.mean[c];
    writer_params.std[c] = steps.std[c];
  }
  ITERD_ASSIGN_OR_RETURN(const image::DefaultAugmenter augmenter,
                         image::DefaultAugmenter::Create(augment_params));
  ITERD_ASSIGN_OR_RETURN(const image::SampleWriter writer,
                         image::SampleWriter::Create(writer_params));
  ITERD_ASSIGN_OR_RETURN(std::unique_ptr<image::JpegDecoder> decoder,
                         image::JpegDecoder::Create());
  const int short_edge = augmenter.planned_short_edge();
  auto process = [&](absl::string_view jpeg, random::Engine* engine,
                     absl::Span<uint8_t> row) -> absl::Status {
    ITERD_ASSIGN_OR_RETURN(image::JpegHeader header, decoder->ReadHeader(jpeg));
    // The largest DCT scale whose shorter edge still covers the resize (the
    // daemon's rule; 1 for 500x375 with a 256 resize).
    const int scale = image::CoveringDctScale(header, short_edge);
    if (steps.crop_first) {
      cv::Mat crop;
      ITERD_ASSIGN_OR_RETURN(const bool cropped,
                             image::DecodeAugmentCropFirst(
                                 jpeg, header, scale, image::PixelOrder::kBgr,
                                 augmenter, engine, &crop));
      if (cropped) return writer.Write(crop, engine, row);
    }
    cv::Mat image(image::JpegDecoder::ScaledDimension(header.height, scale),
                  image::JpegDecoder::ScaledDimension(header.width, scale),
                  CV_8UC3);
    ITERD_RETURN_IF_ERROR(decoder->Decode(
        jpeg, image::PixelOrder::kBgr, scale,
        absl::MakeSpan(image.data, image.total() * image.elemSize()),
        image.step[0]));
    ITERD_RETURN_IF_ERROR(augmenter.Apply(&image, engine));
    return writer.Write(image, engine, row);
  };
  return RunLoop(rec_path, epochs, steps, process);
}

absl::StatusOr<LoopResult> RunOpenCvLoop(const std::string& rec_path,
                                         int epochs, const TrainSteps& steps) {
  auto process = [&](absl::string_view jpeg, random::Engine* engine,
                     absl::Span<uint8_t> row) -> absl::Status {
    const cv::Mat encoded(1, static_cast<int>(jpeg.size()), CV_8U,
                          const_cast<char*>(jpeg.data()));
    const cv::Mat decoded = cv::imdecode(encoded, cv::IMREAD_COLOR);
    if (decoded.empty()) return absl::InvalidArgumentError("imdecode failed");
    // MXNet's aug_default resize step: shorter side to `resize`, bilinear.
    const double factor = static_cast<double>(steps.resize) /
                          std::min(decoded.rows, decoded.cols);
    const int new_width = decoded.cols <= decoded.rows
                              ? steps.resize
                              : static_cast<int>(decoded.cols * factor + 0.5);
    const int new_height = decoded.rows < decoded.cols
                               ? steps.resize
                               : static_cast<int>(decoded.rows * factor + 0.5);
    cv::Mat resized;
    cv::resize(decoded, resized, cv::Size(new_width, new_height), 0, 0,
               cv::INTER_LINEAR);
    // Random crop (a view), then the mirror coin.
    const int y = static_cast<int>(engine->UniformInt(
        static_cast<uint64_t>(resized.rows - steps.crop + 1)));
    const int x = static_cast<int>(engine->UniformInt(
        static_cast<uint64_t>(resized.cols - steps.crop + 1)));
    const cv::Mat crop = resized(cv::Rect(x, y, steps.crop, steps.crop));
    const bool mirror = engine->UniformInt(2) == 1;
    // iter_image_recordio_2.cc's per-pixel loop: BGR -> RGB, mirror, float
    // (p - mean) / std into CHW.
    float* out = reinterpret_cast<float*>(row.data());
    const int plane = steps.crop * steps.crop;
    const float inverse_std[3] = {1 / steps.std[0], 1 / steps.std[1],
                                  1 / steps.std[2]};
    for (int i = 0; i < crop.rows; ++i) {
      const uint8_t* pixels = crop.ptr<uint8_t>(i);
      for (int j = 0; j < crop.cols; ++j) {
        const int column = mirror ? crop.cols - 1 - j : j;
        for (int k = 0; k < 3; ++k) {
          out[k * plane + i * steps.crop + j] =
              (pixels[3 * column + (2 - k)] - steps.mean[k]) * inverse_std[k];
        }
      }
    }
    return absl::OkStatus();
  };
  return RunLoop(rec_path, epochs, steps, process);
}

}  // namespace iterd::bench
