// decode_bench: JPEG decode throughput on the reference f_images records
// (20 photos, 300-600 px, quality 90-95, 4:2:0 as cv::imencode writes them),
// single thread: TurboJPEG through a reused JpegDecoder into a reused
// buffer, DecodeImage (TurboJPEG + a fresh cv::Mat per image), and
// cv::imdecode. Prints images/s and megapixels/s for each.
//
//   bazel run -c opt //common/image:decode_bench [-- seconds_per_loop]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "common/image/image_codec.h"
#include "common/image/jpeg_decoder.h"
#include "common/image/reference_images.h"

namespace iterd::image {
namespace {

struct Result {
  double images_per_second;
  double megapixels_per_second;
};

// Runs `decode_one(i)` over the images round-robin for about `seconds`.
Result TimeLoop(const std::vector<testing::ReferenceImage>& images,
                double seconds, const std::function<bool(size_t)>& decode_one) {
  using Clock = std::chrono::steady_clock;
  for (size_t i = 0; i < images.size(); ++i) decode_one(i);  // Warm up.
  const auto start = Clock::now();
  size_t decoded = 0;
  double pixels = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    for (size_t i = 0; i < images.size(); ++i) {
      if (!decode_one(i)) {
        std::fprintf(stderr, "decode failed: %s\n", images[i].note.c_str());
        std::exit(1);
      }
      pixels += static_cast<double>(images[i].width) * images[i].height;
    }
    decoded += images.size();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return {decoded / elapsed, pixels / elapsed / 1e6};
}

int Main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  auto loaded = testing::LoadReferenceImages("f_images");
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  const std::vector<testing::ReferenceImage>& images = *loaded;
  double megapixels = 0;
  for (const auto& image : images) {
    megapixels += image.width * image.height / 1e6;
  }
  std::printf("%zu JPEGs, mean %.2f MP, single thread, %.1f s per loop\n",
              images.size(), megapixels / images.size(), seconds);

  auto decoder = JpegDecoder::Create();
  if (!decoder.ok()) return 1;
  std::vector<uint8_t> buffer(600 * 600 * 3);
  const Result turbo = TimeLoop(images, seconds, [&](size_t i) {
    const auto& image = images[i];
    return (*decoder)
        ->Decode(image.content, PixelOrder::kBgr, 1, absl::MakeSpan(buffer),
                 image.width * 3)
        .ok();
  });
  const Result turbo_half = TimeLoop(images, seconds, [&](size_t i) {
    const auto& image = images[i];
    return (*decoder)
        ->Decode(image.content, PixelOrder::kBgr, 2, absl::MakeSpan(buffer),
                 JpegDecoder::ScaledDimension(image.width, 2) * 3)
        .ok();
  });
  const Result codec = TimeLoop(images, seconds, [&](size_t i) {
    return DecodeImage(images[i].content, kDecodeColor).ok();
  });
  const Result opencv = TimeLoop(images, seconds, [&](size_t i) {
    const std::string& bytes = images[i].content;
    const cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8UC1,
                      const_cast<char*>(bytes.data()));
    return !cv::imdecode(buf, cv::IMREAD_COLOR).empty();
  });
  auto print = [](const char* name, const Result& result) {
    std::printf("%-44s %8.1f img/s %8.1f MP/s\n", name,
                result.images_per_second, result.megapixels_per_second);
  };
  print("JpegDecoder::Decode BGR, reused buffer", turbo);
  print("JpegDecoder::Decode BGR, DCT scale 1/2", turbo_half);
  print("DecodeImage(flag 1) (TurboJPEG + new Mat)", codec);
  print("cv::imdecode(IMREAD_COLOR)", opencv);
  std::printf("DecodeImage / cv::imdecode = %.2fx\n",
              codec.images_per_second / opencv.images_per_second);
  return 0;
}

}  // namespace
}  // namespace iterd::image

int main(int argc, char** argv) { return iterd::image::Main(argc, argv); }
