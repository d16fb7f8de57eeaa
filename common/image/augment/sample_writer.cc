#include "common/image/augment/sample_writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/image/augment/random_draws.h"

namespace iterd::image {
namespace {

// Input channel (OpenCV order) feeding output channel c: BGR(A) -> RGB(A).
constexpr int SourceChannel(int channels, int c) {
  return channels >= 3 && c < 3 ? 2 - c : c;
}

// Writes planes out[c][y][x] = convert(c, y, xs, pixel) for every output
// pixel, where xs is the source column (mirrored or not). One pass over each
// source row feeds all C planes; C is a template argument so the inner loop
// has constant strides.
template <int C, typename Out, typename Convert>
void WritePlanes(const cv::Mat& image, bool flip, Out* out,
                 const Convert& convert) {
  const int height = image.rows, width = image.cols;
  const size_t plane = static_cast<size_t>(height) * width;
  for (int y = 0; y < height; ++y) {
    const uint8_t* src = image.ptr<uint8_t>(y);
    Out* dst[C];
    for (int c = 0; c < C; ++c) dst[c] = out + c * plane + y * width;
    for (int x = 0; x < width; ++x) {
      const int xs = flip ? width - 1 - x : x;
      const uint8_t* pixel = src + xs * C;
      for (int c = 0; c < C; ++c) {
        dst[c][x] = convert(c, y, xs, pixel[SourceChannel(C, c)]);
      }
    }
  }
}

template <typename Out, typename Convert>
void WritePlanesAnyChannels(const cv::Mat& image, bool flip, Out* out,
                            const Convert& convert) {
  switch (image.channels()) {
    case 1:
      return WritePlanes<1>(image, flip, out, convert);
    case 3:
      return WritePlanes<3>(image, flip, out, convert);
    default:
      return WritePlanes<4>(image, flip, out, convert);
  }
}

// The hot path (no mean image): out[c][y][x] = lut[c][pixel], with the
// mirror branch hoisted out of the loop and one pointer per plane; about 2.5x
// faster than the general WritePlanes on a 224x224 crop.
template <int C, typename Out>
void WriteLutPlanes(const cv::Mat& image, bool flip, const Out (*lut)[256],
                    Out* out) {
  const int height = image.rows, width = image.cols;
  const size_t plane = static_cast<size_t>(height) * width;
  const int step = flip ? -C : C;
  for (int y = 0; y < height; ++y) {
    const uint8_t* pixel = image.ptr<uint8_t>(y) + (flip ? (width - 1) * C : 0);
    Out* const d0 = out + static_cast<size_t>(y) * width;
    if constexpr (C == 1) {
      for (int x = 0; x < width; ++x, pixel += step) d0[x] = lut[0][pixel[0]];
    } else {
      Out* const d1 = d0 + plane;
      Out* const d2 = d1 + plane;
      Out* const d3 = C == 4 ? d2 + plane : nullptr;
      for (int x = 0; x < width; ++x, pixel += step) {
        d0[x] = lut[0][pixel[2]];  // R
        d1[x] = lut[1][pixel[1]];  // G
        d2[x] = lut[2][pixel[0]];  // B
        if constexpr (C == 4) d3[x] = lut[3][pixel[3]];
      }
    }
  }
}

template <typename Out>
void WriteLutPlanesAnyChannels(const cv::Mat& image, bool flip,
                               const Out (*lut)[256], Out* out) {
  switch (image.channels()) {
    case 1:
      return WriteLutPlanes<1>(image, flip, lut, out);
    case 3:
      return WriteLutPlanes<3>(image, flip, lut, out);
    default:
      return WriteLutPlanes<4>(image, flip, lut, out);
  }
}

// uint8 NHWC: rows stay interleaved, only mirrored and channel-swapped.
void WriteInterleaved(const cv::Mat& image, bool flip, uint8_t* out) {
  const int height = image.rows, width = image.cols,
            channels = image.channels();
  for (int y = 0; y < height; ++y) {
    const uint8_t* src = image.ptr<uint8_t>(y);
    uint8_t* dst = out + static_cast<size_t>(y) * width * channels;
    if (channels == 1 && !flip) {
      std::memcpy(dst, src, width);
      continue;
    }
    for (int x = 0; x < width; ++x, dst += channels) {
      const uint8_t* pixel = src + (flip ? width - 1 - x : x) * channels;
      for (int c = 0; c < channels; ++c) {
        dst[c] = pixel[SourceChannel(channels, c)];
      }
    }
  }
}

int8_t SaturateInt8(long value) {
  return static_cast<int8_t>(std::clamp<long>(value, -128, 127));
}

}  // namespace

absl::StatusOr<SampleWriter> SampleWriter::Create(
    const SampleWriterParams& params) {
  if (params.dtype != DType::kFloat32 && params.dtype != DType::kUInt8 &&
      params.dtype != DType::kInt8) {
    return absl::InvalidArgumentError(
        absl::StrCat("dtype: ", DTypeName(params.dtype),
                     " is not one of float32, uint8, int8"));
  }
  if (params.channels != 1 && params.channels != 3 && params.channels != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data_shape: ", params.channels, " channels is not 1, 3 or 4"));
  }
  if (params.nhwc && params.dtype != DType::kUInt8) {
    return absl::InvalidArgumentError(
        "layout: NHWC is only available with dtype uint8");
  }
  if (params.dtype == DType::kFloat32) {
    static constexpr const char* kStdNames[4] = {"std_r", "std_g", "std_b",
                                                 "std_a"};
    for (int c = 0; c < params.channels; ++c) {
      if (params.std[c] == 0 || !std::isfinite(params.std[c])) {
        return absl::InvalidArgumentError(absl::StrCat(
            kStdNames[c], ": ", params.std[c], " must be finite and non-zero"));
      }
    }
  }
  if (params.max_random_contrast < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_random_contrast: ", params.max_random_contrast, " is negative"));
  }
  if (params.max_random_illumination < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_random_illumination: ", params.max_random_illumination,
        " is negative"));
  }
  return SampleWriter(params);
}

absl::Status SampleWriter::Write(const cv::Mat& image, random::Engine* rng,
                                 absl::Span<uint8_t> row) const {
  const SampleWriterParams& p = params_;
  if (image.empty() || image.depth() != CV_8U ||
      image.channels() != p.channels) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample writer: expected an 8-bit image with ", p.channels,
                     " channels, got ", image.cols, "x", image.rows, " type ",
                     image.type()));
  }
  const size_t elements =
      static_cast<size_t>(image.rows) * image.cols * p.channels;
  if (row.size() != elements * DTypeSize(p.dtype)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sample writer: row has ", row.size(), " bytes, a ", image.cols, "x",
        image.rows, "x", p.channels, " ", DTypeName(p.dtype), " sample needs ",
        elements * DTypeSize(p.dtype)));
  }
  bool flip = p.mirror;
  if (p.rand_mirror && UniformFloat(rng, 0, 1) < 0.5f) flip = true;

  if (p.dtype == DType::kUInt8) {
    if (p.nhwc) {
      WriteInterleaved(image, flip, row.data());
    } else {
      uint8_t identity[4][256];
      for (int c = 0; c < 4; ++c) {
        for (int v = 0; v < 256; ++v) identity[c][v] = static_cast<uint8_t>(v);
      }
      WriteLutPlanesAnyChannels<uint8_t>(image, flip, identity, row.data());
    }
    return absl::OkStatus();
  }
  const float contrast =
      (1 + UniformFloat(rng, -p.max_random_contrast, p.max_random_contrast)) *
      p.scale;
  const float illumination =
      UniformFloat(rng, -p.max_random_illumination, p.max_random_illumination) *
      p.scale;
  const size_t plane = static_cast<size_t>(image.rows) * image.cols;
  const int width = image.cols;
  const float* mean_image = p.mean_image;

  if (p.dtype == DType::kInt8) {
    int8_t* out = reinterpret_cast<int8_t*>(row.data());
    if (mean_image != nullptr) {
      WritePlanesAnyChannels(
          image, flip, out, [&](int c, int y, int xs, uint8_t v) {
            const float mean = mean_image[c * plane + y * width + xs];
            return SaturateInt8(v - std::lround(mean));
          });
    } else {
      int8_t lut[4][256];
      for (int c = 0; c < p.channels; ++c) {
        const long mean = std::lround(p.mean[c]);
        for (int v = 0; v < 256; ++v) lut[c][v] = SaturateInt8(v - mean);
      }
      WriteLutPlanesAnyChannels<int8_t>(image, flip, lut, out);
    }
    return absl::OkStatus();
  }

  // float32. The row is a batch slice whose float alignment the payload
  // guarantees (it starts at a multiple of the row size from an aligned base).
  float* out = reinterpret_cast<float*>(row.data());
  float multiplier[4], offset[4];
  for (int c = 0; c < p.channels; ++c) {
    multiplier[c] = contrast / p.std[c];
    offset[c] = illumination / p.std[c];
  }
  if (mean_image != nullptr) {
    WritePlanesAnyChannels(
        image, flip, out, [&](int c, int y, int xs, uint8_t v) {
          const float mean = mean_image[c * plane + y * width + xs];
          return (v - mean) * multiplier[c] + offset[c];
        });
  } else {
    // Per-channel tables computed in double: each output is the correctly
    // rounded value of the formula, and the loop is a table lookup.
    float lut[4][256];
    for (int c = 0; c < p.channels; ++c) {
      for (int v = 0; v < 256; ++v) {
        lut[c][v] = static_cast<float>(
            (v - static_cast<double>(p.mean[c])) * contrast / p.std[c] +
            static_cast<double>(illumination) / p.std[c]);
      }
    }
    WriteLutPlanesAnyChannels<float>(image, flip, lut, out);
  }
  return absl::OkStatus();
}

}  // namespace iterd::image
