#include "client/cpp/image_helpers.h"

#include <cstdint>
#include <memory>
#include <opencv2/imgproc.hpp>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/image/augment/interpolation.h"
#include "common/image/augment/random_draws.h"
#include "common/image/image_codec.h"
#include "common/io/mapped_file.h"
#include "common/status/status_macros.h"

namespace iterd::client {
namespace {

std::string SizeText(int width, int height) {
  return absl::StrCat(width, "x", height);
}

std::string RectText(const cv::Rect& rect) {
  return absl::StrCat("(x0=", rect.x, ", y0=", rect.y, ", w=", rect.width,
                      ", h=", rect.height, ")");
}

absl::Status CheckSource(absl::string_view function, const cv::Mat& src) {
  if (src.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(function, ": src is an empty image"));
  }
  return absl::OkStatus();
}

// Checks `size` is positive and scales it down to `src`; shared by the
// centre and random crops.
absl::StatusOr<cv::Size> CropWindowSize(absl::string_view function,
                                        const cv::Mat& src, cv::Size size) {
  ITERD_RETURN_IF_ERROR(CheckSource(function, src));
  if (size.width <= 0 || size.height <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(function, ": size must be positive, got ",
                     SizeText(size.width, size.height)));
  }
  const cv::Size window = ScaleDown(src.size(), size);
  if (window.width <= 0 || window.height <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(function, ": size ", SizeText(size.width, size.height),
                     " scaled down to the ", SizeText(src.cols, src.rows),
                     " image is empty"));
  }
  return window;
}

}  // namespace

absl::StatusOr<cv::Mat> DecodeImage(absl::string_view bytes,
                                    const DecodeOptions& options) {
  ITERD_ASSIGN_OR_RETURN(
      cv::Mat image,
      image::DecodeImage(
          bytes, options.color ? image::kDecodeColor : image::kDecodeGray));
  if (options.color && options.to_rgb) {
    // In place: the decoded buffer is ours, and a copy would cost as much as
    // the swap itself.
    try {
      cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
    } catch (const cv::Exception& error) {
      return absl::InternalError(
          absl::StrCat("BGR to RGB conversion failed: ", error.what()));
    }
  }
  return image;
}

absl::StatusOr<cv::Mat> ReadImage(const std::string& path,
                                  const DecodeOptions& options) {
  // A mapping rather than a read: the decoder reads the page cache directly,
  // and the decoded Mat owns its pixels, so the mapping can go right after.
  ITERD_ASSIGN_OR_RETURN(std::shared_ptr<const io::MappedFile> file,
                         io::MappedFile::Open(path));
  absl::StatusOr<cv::Mat> image = DecodeImage(file->contents(), options);
  if (!image.ok()) {
    return absl::Status(
        image.status().code(),
        absl::StrCat("image file ", path, ": ", image.status().message()));
  }
  return image;
}

absl::StatusOr<cv::Mat> ResizeImage(const cv::Mat& src, int width, int height,
                                    int interpolation, random::Engine* rng) {
  ITERD_RETURN_IF_ERROR(CheckSource("ResizeImage", src));
  if (width <= 0 || height <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ResizeImage: width and height must be positive, got ",
                     SizeText(width, height)));
  }
  if (!image::IsValidInterMethod(interpolation)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ResizeImage: interpolation must be 0..4, 9 (auto) or 10 "
                     "(random), got ",
                     interpolation));
  }
  if (interpolation == kInterRandom && rng == nullptr) {
    return absl::InvalidArgumentError(
        "ResizeImage: interpolation 10 (random) needs a random::Engine, got "
        "none");
  }
  cv::Mat resized;
  const absl::Status status = image::ResizeImage(src, cv::Size(width, height),
                                                 interpolation, rng, &resized);
  if (!status.ok()) {
    // The only failure left is OpenCV refusing this image (its depth or
    // channel count): the caller's input, so InvalidArgument.
    return absl::InvalidArgumentError(
        absl::StrCat("ResizeImage: OpenCV cannot resize the ",
                     SizeText(src.cols, src.rows), " image (type ", src.type(),
                     ") to ", SizeText(width, height), ": ", status.message()));
  }
  return resized;
}

absl::StatusOr<cv::Mat> ResizeShorterSide(const cv::Mat& src, int size,
                                          int interpolation,
                                          random::Engine* rng) {
  ITERD_RETURN_IF_ERROR(CheckSource("ResizeShorterSide", src));
  if (size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ResizeShorterSide: size must be positive, got ", size));
  }
  // 64-bit products: size * long side can pass 2^31 for huge sizes.
  const int64_t rows = src.rows, cols = src.cols;
  const int64_t new_rows = rows > cols ? size * rows / cols : size;
  const int64_t new_cols = rows > cols ? size : size * cols / rows;
  if (new_rows > INT32_MAX || new_cols > INT32_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("ResizeShorterSide: size ", size, " overflows for a ",
                     SizeText(src.cols, src.rows), " image"));
  }
  return ResizeImage(src, static_cast<int>(new_cols),
                     static_cast<int>(new_rows), interpolation, rng);
}

cv::Size ScaleDown(cv::Size src_size, cv::Size size) {
  // MXNet's arithmetic: float division, truncation at the end.
  double width = size.width, height = size.height;
  if (src_size.height < height) {
    width = width * src_size.height / height;
    height = src_size.height;
  }
  if (src_size.width < width) {
    height = height * src_size.width / width;
    width = src_size.width;
  }
  return cv::Size(static_cast<int>(width), static_cast<int>(height));
}

absl::StatusOr<cv::Mat> FixedCrop(const cv::Mat& src, cv::Rect rect,
                                  cv::Size size, int interpolation,
                                  random::Engine* rng) {
  ITERD_RETURN_IF_ERROR(CheckSource("FixedCrop", src));
  if (rect.x < 0 || rect.y < 0 || rect.width <= 0 || rect.height <= 0 ||
      rect.width > src.cols - rect.x || rect.height > src.rows - rect.y) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FixedCrop: rect ", RectText(rect), " is empty or leaves the ",
        SizeText(src.cols, src.rows), " image"));
  }
  const cv::Mat window = src(rect);
  if (size.empty() || size == rect.size()) return window;
  return ResizeImage(window, size.width, size.height, interpolation, rng);
}

absl::StatusOr<cv::Mat> CenterCrop(const cv::Mat& src, cv::Size size,
                                   cv::Rect* rect_out, int interpolation,
                                   random::Engine* rng) {
  ITERD_ASSIGN_OR_RETURN(const cv::Size window,
                         CropWindowSize("CenterCrop", src, size));
  const cv::Rect rect((src.cols - window.width) / 2,
                      (src.rows - window.height) / 2, window.width,
                      window.height);
  ITERD_ASSIGN_OR_RETURN(cv::Mat out,
                         FixedCrop(src, rect, size, interpolation, rng));
  if (rect_out != nullptr) *rect_out = rect;
  return out;
}

absl::StatusOr<cv::Mat> RandomCrop(const cv::Mat& src, cv::Size size,
                                   random::Engine* rng, cv::Rect* rect_out,
                                   int interpolation) {
  if (rng == nullptr) {
    return absl::InvalidArgumentError("RandomCrop: rng must not be null");
  }
  ITERD_ASSIGN_OR_RETURN(const cv::Size window,
                         CropWindowSize("RandomCrop", src, size));
  const int x0 = image::UniformIntInclusive(rng, 0, src.cols - window.width);
  const int y0 = image::UniformIntInclusive(rng, 0, src.rows - window.height);
  const cv::Rect rect(x0, y0, window.width, window.height);
  ITERD_ASSIGN_OR_RETURN(cv::Mat out,
                         FixedCrop(src, rect, size, interpolation, rng));
  if (rect_out != nullptr) *rect_out = rect;
  return out;
}

}  // namespace iterd::client
