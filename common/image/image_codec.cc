#include "common/image/image_codec.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <new>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "common/image/exif_orientation.h"
#include "common/image/image_header.h"
#include "common/image/jpeg_decoder.h"
#include "common/image/jpeg_encoder.h"
#include "common/status/status_macros.h"

namespace iterd::image {
namespace {

constexpr size_t kBytesShownInErrors = 8;

absl::Status NotDecodable(absl::string_view bytes, absl::string_view reason) {
  std::string start;
  for (size_t i = 0; i < std::min(bytes.size(), kBytesShownInErrors); ++i) {
    absl::StrAppendFormat(&start, " %02X", static_cast<uint8_t>(bytes[i]));
  }
  if (bytes.size() > kBytesShownInErrors) start += " ...";
  return absl::InvalidArgumentError(
      absl::StrCat("not a decodable image (", bytes.size(), " bytes",
                   bytes.empty() ? "" : ", starts with", start, ")",
                   reason.empty() ? "" : ": ", reason));
}

// One handle per thread: a TurboJPEG handle holds libjpeg's state (a few KB
// of allocations), too costly to build per image and unsafe to share.
absl::StatusOr<JpegDecoder*> ThreadJpegDecoder() {
  thread_local std::unique_ptr<JpegDecoder> decoder;
  if (decoder == nullptr) {
    ITERD_ASSIGN_OR_RETURN(decoder, JpegDecoder::Create());
  }
  return decoder.get();
}

absl::StatusOr<JpegEncoder*> ThreadJpegEncoder() {
  thread_local std::unique_ptr<JpegEncoder> encoder;
  if (encoder == nullptr) {
    ITERD_ASSIGN_OR_RETURN(encoder, JpegEncoder::Create());
  }
  return encoder.get();
}

absl::StatusOr<cv::Mat> DecodeWithOpenCv(absl::string_view bytes, int flag) {
  // cv::imdecode asserts (throws) on an empty buffer.
  if (bytes.empty()) return NotDecodable(bytes, "");
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return NotDecodable(bytes, "larger than 2 GiB");
  }
  cv::Mat image;
  try {
    // imdecode only reads the buffer; the Mat header just cannot say const.
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                         const_cast<char*>(bytes.data()));
    image = cv::imdecode(buffer, flag);
  } catch (const std::exception&) {
    // OpenCV's text (a source path and an assertion) means nothing to a
    // client, and an out-of-memory is this image's fault too.
    return NotDecodable(bytes, "the decoder failed");
  }
  if (image.empty()) return NotDecodable(bytes, "");
  return image;
}

// Returns an empty Mat (and OK) when the JPEG must go to OpenCV instead.
absl::StatusOr<cv::Mat> DecodeJpeg(absl::string_view bytes, int flag,
                                   uint64_t max_pixels) {
  ITERD_ASSIGN_OR_RETURN(JpegDecoder * decoder, ThreadJpegDecoder());
  absl::StatusOr<JpegHeader> header = decoder->ReadHeader(bytes);
  if (!header.ok()) return NotDecodable(bytes, header.status().message());
  PixelOrder order = PixelOrder::kBgr;
  if (flag == kDecodeGray || (flag == kDecodeUnchanged &&
                              header->color_space == JpegColorSpace::kGray)) {
    order = PixelOrder::kGray;
  }
  // TurboJPEG's header may differ from our marker walk (DecodeImage's check):
  // the allocation below follows TurboJPEG's.
  const absl::Status size_ok =
      CheckPixelCount(header->width, header->height, max_pixels);
  if (!size_ok.ok()) return NotDecodable(bytes, size_ok.message());
  if (header->IsCmyk()) return cv::Mat();  // libjpeg-turbo can't convert it.
  cv::Mat image;
  try {
    image.create(header->height, header->width, CV_8UC(ChannelCount(order)));
  } catch (const std::exception&) {  // Out of memory.
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot allocate a ", header->width, "x", header->height, " image"));
  }
  const absl::Status decoded = decoder->Decode(
      bytes, order, /*scale_denominator=*/1,
      absl::MakeSpan(image.data, image.total() * image.elemSize()),
      image.step[0]);
  if (!decoded.ok()) return NotDecodable(bytes, decoded.message());
  if (flag != kDecodeUnchanged) {
    ApplyExifOrientation(JpegExifOrientation(bytes), &image);
  }
  return image;
}

absl::StatusOr<std::string> EncodePng(const cv::Mat& image, int quality) {
  const std::vector<int> params = {cv::IMWRITE_PNG_COMPRESSION,
                                   std::clamp(quality, 0, 9)};
  std::vector<uint8_t> png;
  try {
    if (!cv::imencode(".png", image, png, params)) {
      return absl::InvalidArgumentError("PNG encode failed");
    }
  } catch (const std::exception&) {  // OpenCV's text is not for clients.
    return absl::InvalidArgumentError(absl::StrCat(
        "PNG encode of a ", image.cols, "x", image.rows, " image failed"));
  }
  return std::string(png.begin(), png.end());
}

absl::StatusOr<std::string> EncodeJpeg(const cv::Mat& image, int quality) {
  if (image.depth() != CV_8U) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JPEG encode needs an 8-bit image, got OpenCV depth ", image.depth()));
  }
  if (image.dims != 2) {
    return absl::InvalidArgumentError("JPEG encode needs a 2-D image");
  }
  ITERD_ASSIGN_OR_RETURN(JpegEncoder * encoder, ThreadJpegEncoder());
  // The span ends where the last row's pixels end (the step may pad rows).
  const size_t bytes = (image.rows - 1) * image.step[0] +
                       static_cast<size_t>(image.cols) * image.elemSize();
  return encoder->Encode(absl::MakeConstSpan(image.data, bytes), image.cols,
                         image.rows, image.step[0], image.channels(), quality);
}

}  // namespace

absl::StatusOr<cv::Mat> DecodeImage(absl::string_view bytes, int flag,
                                    uint64_t max_pixels) {
  if (flag != kDecodeUnchanged && flag != kDecodeGray && flag != kDecodeColor) {
    return absl::InvalidArgumentError(
        absl::StrCat("image decode flag must be -1, 0 or 1, got ", flag));
  }
  if (bytes.empty()) return NotDecodable(bytes, "");
  // Decided from the header, before any decoder allocates.
  const absl::Status size_ok = CheckDeclaredImageSize(bytes, max_pixels);
  if (!size_ok.ok()) return NotDecodable(bytes, size_ok.message());
  if (LooksLikeJpeg(bytes)) {
    ITERD_ASSIGN_OR_RETURN(cv::Mat image, DecodeJpeg(bytes, flag, max_pixels));
    if (!image.empty()) return image;
  }
  return DecodeWithOpenCv(bytes, flag);
}

absl::Status ExceptionStatus(const std::exception& error) {
  const bool memory =
      dynamic_cast<const std::bad_alloc*>(&error) != nullptr ||
      (dynamic_cast<const cv::Exception*>(&error) != nullptr &&
       static_cast<const cv::Exception&>(error).code == cv::Error::StsNoMem);
  return absl::InvalidArgumentError(
      absl::StrCat("decoding or augmenting the image failed (",
                   memory ? "out of memory" : "internal decoder error", ")"));
}

absl::StatusOr<std::string> EncodeImage(const cv::Mat& image,
                                        absl::string_view ext, int quality) {
  if (image.empty()) {
    return absl::InvalidArgumentError("cannot encode an empty image");
  }
  const std::string lower_ext = absl::AsciiStrToLower(ext);
  if (lower_ext == ".jpg" || lower_ext == ".jpeg") {
    return EncodeJpeg(image, quality);
  }
  if (lower_ext == ".png") return EncodePng(image, quality);
  return absl::InvalidArgumentError(absl::StrCat(
      "image extension must be .jpg, .jpeg or .png, got \"", ext, "\""));
}

}  // namespace iterd::image
