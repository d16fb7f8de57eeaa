#include "common/image/jpeg_window_decoder.h"

#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>

// After <cstddef> and <cstdio>: jpeglib.h uses size_t and FILE undeclared.
#include <jpeglib.h>

#include "absl/strings/str_cat.h"

namespace iterd::image {
namespace {

// jpeg_crop_scanline moves the left edge down to an iMCU boundary: at most
// max_h_samp_factor (<= 4) * DCT size (<= 8) - 1 extra columns.
constexpr int kMaxExtraColumns = 32;

struct ErrorManager {
  jpeg_error_mgr manager;  // First: libjpeg sees a jpeg_error_mgr*.
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void ExitOnError(j_common_ptr info) {
  auto* errors = reinterpret_cast<ErrorManager*>(info->err);
  (*info->err->format_message)(info, errors->message);
  longjmp(errors->jump, 1);
}

// Warnings are not errors (as TurboJPEG without TJFLAG_STOPONWARNING), and
// libjpeg's default would print them to stderr.
void IgnoreMessage(j_common_ptr) {}

// Plain data in and out of the C-style decode below.
struct WindowRequest {
  const unsigned char* data;
  unsigned long size;
  int scale_denominator;
  J_COLOR_SPACE color_space;
  int x, y, width, height;  // In scaled coordinates.
  unsigned char* out;       // `height` rows of `out_stride` bytes.
  size_t out_stride;
  int components;
  uint64_t max_pixels;  // Of the full-size image the header declares.
};

// Decodes the request's rows into `out`, the leftmost decoded column going
// to byte 0 of each row, and stores that column's x in *strip_x. Returns
// false with errors->message set on failure; every return destroys the
// decompressor, so nothing survives a call. Holds no C++ object with a
// destructor, so libjpeg's longjmp out of it skips nothing. The libjpeg
// state lives in the caller's frame (`state`): objects local to a function
// that calls setjmp and changed after it are indeterminate after longjmp.
bool DecodeRows(const WindowRequest* request, ErrorManager* errors,
                jpeg_decompress_struct* state, int* strip_x) {
  jpeg_decompress_struct& info = *state;
  std::memset(&info, 0, sizeof(info));
  info.err = jpeg_std_error(&errors->manager);
  errors->manager.error_exit = ExitOnError;
  errors->manager.output_message = IgnoreMessage;
  errors->message[0] = '\0';
  if (setjmp(errors->jump) != 0) {
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, request->data, request->size);
  jpeg_read_header(&info, TRUE);
  if (static_cast<uint64_t>(info.image_width) * info.image_height >
      request->max_pixels) {
    std::snprintf(errors->message, sizeof(errors->message),
                  "the header declares %ux%u pixels, more than the limit of "
                  "%llu",
                  info.image_width, info.image_height,
                  static_cast<unsigned long long>(request->max_pixels));
    jpeg_destroy_decompress(&info);
    return false;
  }
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    std::snprintf(errors->message, sizeof(errors->message),
                  "CMYK/YCCK images are not supported");
    jpeg_destroy_decompress(&info);
    return false;
  }
  info.scale_num = 1;
  info.scale_denom = static_cast<unsigned int>(request->scale_denominator);
  info.out_color_space = request->color_space;
  jpeg_start_decompress(&info);
  const int right = request->x + request->width;
  const int bottom = request->y + request->height;
  if (right > static_cast<int>(info.output_width) ||
      bottom > static_cast<int>(info.output_height) ||
      static_cast<int>(info.output_components) != request->components) {
    std::snprintf(errors->message, sizeof(errors->message),
                  "window %dx%d+%d+%d is outside the %ux%u scaled image",
                  request->width, request->height, request->x, request->y,
                  info.output_width, info.output_height);
    jpeg_destroy_decompress(&info);
    return false;
  }
  JDIMENSION x = static_cast<JDIMENSION>(request->x);
  JDIMENSION width = static_cast<JDIMENSION>(request->width);
  if (x > 0 || width < info.output_width) {
    jpeg_crop_scanline(&info, &x, &width);
  }
  if (static_cast<size_t>(info.output_width) * request->components >
      request->out_stride) {
    std::snprintf(errors->message, sizeof(errors->message),
                  "cropped strip of %u columns exceeds its buffer",
                  info.output_width);
    jpeg_destroy_decompress(&info);
    return false;
  }
  if (request->y > 0 &&
      jpeg_skip_scanlines(&info, static_cast<JDIMENSION>(request->y)) !=
          static_cast<JDIMENSION>(request->y)) {
    std::snprintf(errors->message, sizeof(errors->message),
                  "could not skip to row %d", request->y);
    jpeg_destroy_decompress(&info);
    return false;
  }
  while (static_cast<int>(info.output_scanline) < bottom) {
    JSAMPROW row =
        request->out + static_cast<size_t>(info.output_scanline - request->y) *
                           request->out_stride;
    if (jpeg_read_scanlines(&info, &row, 1) != 1) {
      std::snprintf(errors->message, sizeof(errors->message), "no scanline %u",
                    info.output_scanline);
      jpeg_destroy_decompress(&info);
      return false;
    }
  }
  *strip_x = static_cast<int>(x);
  // Stops here: the rows below the window are never decoded.
  jpeg_destroy_decompress(&info);
  return true;
}

}  // namespace

absl::StatusOr<cv::Mat> DecodeJpegWindow(absl::string_view jpeg,
                                         PixelOrder order,
                                         int scale_denominator, cv::Rect window,
                                         uint64_t max_pixels) {
  if (scale_denominator != 1 && scale_denominator != 2 &&
      scale_denominator != 4 && scale_denominator != 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JPEG scale must be 1/1, 1/2, 1/4 or 1/8, got 1/", scale_denominator));
  }
  if (window.x < 0 || window.y < 0 || window.width < 1 || window.height < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("JPEG window ", window.width, "x", window.height, "+",
                     window.x, "+", window.y, " is empty or negative"));
  }
  const int components = ChannelCount(order);
  const int strip_columns = window.width + kMaxExtraColumns;
  cv::Mat strip;
  try {
    strip.create(window.height, strip_columns, CV_8UC(components));
  } catch (const std::exception&) {  // Out of memory.
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot allocate a ", strip_columns, "x", window.height, " strip"));
  }
  WindowRequest request;
  request.data = reinterpret_cast<const unsigned char*>(jpeg.data());
  request.size = static_cast<unsigned long>(jpeg.size());
  request.scale_denominator = scale_denominator;
  request.color_space = order == PixelOrder::kGray  ? JCS_GRAYSCALE
                        : order == PixelOrder::kBgr ? JCS_EXT_BGR
                                                    : JCS_EXT_RGB;
  request.x = window.x;
  request.y = window.y;
  request.width = window.width;
  request.height = window.height;
  request.out = strip.data;
  request.out_stride = strip.step[0];
  request.components = components;
  request.max_pixels = max_pixels;
  ErrorManager errors;
  jpeg_decompress_struct state;
  int strip_x = 0;
  if (!DecodeRows(&request, &errors, &state, &strip_x)) {
    return absl::InvalidArgumentError(
        absl::StrCat("JPEG window decode: ", errors.message));
  }
  const int left = window.x - strip_x;
  if (left < 0 || left + window.width > strip_columns) {
    return absl::InternalError(
        absl::StrCat("JPEG window decode: strip starts at column ", strip_x,
                     " for a window at ", window.x));
  }
  return strip(cv::Rect(left, 0, window.width, window.height));
}

}  // namespace iterd::image
