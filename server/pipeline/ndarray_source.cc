#include "server/pipeline/ndarray_source.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/random/engine.h"
#include "common/status/status_macros.h"

namespace iterd::pipeline {
namespace {

// Stream id of the shuffle in Engine(seed, stream, epoch): keeps this source's
// permutations independent of other random draws seeded with the same seed.
constexpr uint64_t kShuffleStream = 0x4E444172726179;  // "NDArray"

// Most samples a source whose samples hold no bytes may have (its order is
// the only memory they cost).
constexpr int64_t kMaxEmptySamples = int64_t{1} << 24;

// ---- Element conversion -----------------------------------------------------

// IEEE binary16 <-> binary32, round to nearest even (F. Giesen's
// float_to_half_fast3_rtne), so float16 inputs and outputs match NumPy.
float HalfToFloat(uint16_t half) {
  const uint32_t sign = uint32_t{half & 0x8000u} << 16;
  const uint32_t exponent = (half >> 10) & 0x1F;
  const uint32_t mantissa = half & 0x3FF;
  uint32_t bits;
  if (exponent == 0) {  // Zero or subnormal: mantissa * 2^-24.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    std::memcpy(&bits, &magnitude, sizeof(bits));
    bits |= sign;
  } else if (exponent == 31) {  // Inf or NaN.
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

uint16_t FloatToHalf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint32_t sign = (bits >> 16) & 0x8000u;
  bits &= 0x7FFFFFFFu;
  uint32_t half;
  if (bits >= 0x47800000u) {  // >= 65536, Inf or NaN.
    half = bits > 0x7F800000u ? 0x7E00u : 0x7C00u;
  } else if (bits < 0x38800000u) {  // Below 2^-14: subnormal or zero.
    // Adding 0.5 aligns the value's bits so the FPU rounds them (to even).
    constexpr uint32_t kMagicBits = 126u << 23;
    float magic;
    std::memcpy(&magic, &kMagicBits, sizeof(magic));
    float magnitude;
    std::memcpy(&magnitude, &bits, sizeof(magnitude));
    magnitude += magic;
    std::memcpy(&half, &magnitude, sizeof(half));
    half -= kMagicBits;
  } else {
    const uint32_t mantissa_odd = (bits >> 13) & 1;
    bits += 0xC8000FFFu + mantissa_odd;  // Rebias (15 - 127) << 23, round.
    half = bits >> 13;
  }
  return static_cast<uint16_t>(half | sign);
}

// Tag for float16 elements, stored as uint16_t bits and computed as float.
struct Half {};
template <typename T>
struct Element {
  using Bits = T;
  static T Decode(T bits) { return bits; }
};
template <>
struct Element<Half> {
  using Bits = uint16_t;
  static float Decode(uint16_t bits) { return HalfToFloat(bits); }
};

// static_cast, except that float -> integer saturates (and NaN gives 0)
// instead of being undefined behaviour out of range.
template <typename To, typename From>
To CastValue(From value) {
  if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    if (std::isnan(value)) return 0;
    if (value <= static_cast<From>(std::numeric_limits<To>::min())) {
      return std::numeric_limits<To>::min();
    }
    if (value >= static_cast<From>(std::numeric_limits<To>::max())) {
      return std::numeric_limits<To>::max();
    }
  }
  return static_cast<To>(value);
}

template <typename To, typename From>
typename Element<To>::Bits Encode(From value) {
  if constexpr (std::is_same_v<To, Half>) {
    return FloatToHalf(CastValue<float>(value));
  } else {
    return CastValue<To>(value);
  }
}

// memcpy per element: .npz members sit at arbitrary offsets, so the source
// may be unaligned. Compilers turn these into plain (vector) loads.
template <typename From, typename To>
void ConvertLoop(const uint8_t* source, uint8_t* destination, size_t count) {
  using FromBits = typename Element<From>::Bits;
  using ToBits = typename Element<To>::Bits;
  for (size_t i = 0; i < count; ++i) {
    FromBits in;
    std::memcpy(&in, source + i * sizeof(FromBits), sizeof(FromBits));
    const ToBits out = Encode<To>(Element<From>::Decode(in));
    std::memcpy(destination + i * sizeof(ToBits), &out, sizeof(ToBits));
  }
}

template <typename From>
void ConvertFrom(DType to, const uint8_t* source, uint8_t* destination,
                 size_t count) {
  switch (to) {
    case DType::kFloat32:
      return ConvertLoop<From, float>(source, destination, count);
    case DType::kFloat64:
      return ConvertLoop<From, double>(source, destination, count);
    case DType::kFloat16:
      return ConvertLoop<From, Half>(source, destination, count);
    case DType::kUInt8:
      return ConvertLoop<From, uint8_t>(source, destination, count);
    case DType::kInt8:
      return ConvertLoop<From, int8_t>(source, destination, count);
    case DType::kInt32:
      return ConvertLoop<From, int32_t>(source, destination, count);
    case DType::kInt64:
      return ConvertLoop<From, int64_t>(source, destination, count);
  }
}

void ConvertElements(DType from, DType to, const uint8_t* source,
                     uint8_t* destination, size_t count) {
  switch (from) {
    case DType::kFloat32:
      return ConvertFrom<float>(to, source, destination, count);
    case DType::kFloat64:
      return ConvertFrom<double>(to, source, destination, count);
    case DType::kFloat16:
      return ConvertFrom<Half>(to, source, destination, count);
    case DType::kUInt8:
      return ConvertFrom<uint8_t>(to, source, destination, count);
    case DType::kInt8:
      return ConvertFrom<int8_t>(to, source, destination, count);
    case DType::kInt32:
      return ConvertFrom<int32_t>(to, source, destination, count);
    case DType::kInt64:
      return ConvertFrom<int64_t>(to, source, destination, count);
  }
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

// Sorts by name (byte-wise, as Python's sorted()) and rejects duplicates.
absl::Status SortByName(std::vector<NamedArray>* arrays,
                        absl::string_view field) {
  std::stable_sort(
      arrays->begin(), arrays->end(),
      [](const NamedArray& a, const NamedArray& b) { return a.name < b.name; });
  for (size_t i = 1; i < arrays->size(); ++i) {
    if ((*arrays)[i].name == (*arrays)[i - 1].name) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": two arrays are named '", (*arrays)[i].name, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NDArraySource>> NDArraySource::Create(
    NDArraySourceOptions options) {
  if (options.data.empty()) {
    return absl::InvalidArgumentError(
        "ndarray.data: NDArrayIter needs at least one data array");
  }
  if (options.num_parts < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ndarray.num_parts must be >= 1, got ", options.num_parts));
  }
  if (options.part_index < 0 || options.part_index >= options.num_parts) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ndarray.part_index must be in [0, num_parts = ", options.num_parts,
        "), got ", options.part_index));
  }
  absl::Status sorted = SortByName(&options.data, "ndarray.data");
  if (sorted.ok()) sorted = SortByName(&options.label, "ndarray.label");
  if (!sorted.ok()) return sorted;

  std::unique_ptr<NDArraySource> source(new NDArraySource());
  source->output_dtype_ = options.output_dtype;
  source->shuffle_ = options.shuffle;
  source->seed_ = options.seed;
  int64_t num_samples = -1;
  std::string first_name;  // Of the array that defines N.
  for (bool is_label : {false, true}) {
    std::vector<NamedArray>& arrays = is_label ? options.label : options.data;
    for (NamedArray& named : arrays) {
      const absl::string_view field =
          is_label ? "ndarray.label" : "ndarray.data";
      const Array& array = named.array;
      if (array.shape.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, " '", named.name,
                         "' is 0-d; NDArrayIter needs a sample axis"));
      }
      for (int64_t dim : array.shape) {
        if (dim < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(field, " '", named.name, "' has negative shape ",
                           ShapeString(array.shape)));
        }
      }
      if (array.data == nullptr && array.byte_size() > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, " '", named.name, "' has no data"));
      }
      if (num_samples < 0) {
        num_samples = array.shape[0];
        first_name = named.name;
      } else if (array.shape[0] != num_samples) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, " '", named.name, "' has ", array.shape[0],
            " samples (first axis of shape ", ShapeString(array.shape),
            ") but data '", first_name, "' has ", num_samples));
      }
      Input input;
      input.elements_per_sample = std::accumulate(
          array.shape.begin() + 1, array.shape.end(), size_t{1},
          [](size_t a, int64_t b) { return a * static_cast<size_t>(b); });
      input.input_row_bytes =
          input.elements_per_sample * DTypeSize(array.dtype);
      TensorSpec spec;
      spec.dtype = options.output_dtype;
      spec.shape.assign(array.shape.begin() + 1, array.shape.end());
      input.array = std::move(named.array);
      (is_label ? source->label_names_ : source->data_names_)
          .push_back(std::move(named.name));
      (is_label ? source->label_inputs_ : source->data_inputs_)
          .push_back(std::move(input));
      (is_label ? source->sample_label_specs_ : source->sample_data_specs_)
          .push_back(std::move(spec));
    }
  }
  // The order costs 8 bytes per sample: samples must hold data, or a shape
  // such as (2^40, 0), which holds none, would make the daemon allocate
  // terabytes.
  size_t bytes_per_sample = 0;
  for (const std::vector<Input>* inputs :
       {&source->data_inputs_, &source->label_inputs_}) {
    for (const Input& input : *inputs)
      bytes_per_sample += input.input_row_bytes;
  }
  if (bytes_per_sample == 0 && num_samples > kMaxEmptySamples) {
    return absl::InvalidArgumentError(
        absl::StrCat("ndarray.data '", first_name, "' has ", num_samples,
                     " samples of 0 bytes; at most ", kMaxEmptySamples,
                     " samples may be empty"));
  }
  // This part's contiguous range of ceil(N / P) samples.
  const int64_t per_part =
      (num_samples + options.num_parts - 1) / options.num_parts;
  const int64_t begin = std::min(per_part * options.part_index, num_samples);
  const int64_t end = std::min(begin + per_part, num_samples);
  source->part_begin_ = begin;
  source->order_.resize(end - begin);
  std::iota(source->order_.begin(), source->order_.end(), begin);
  return source;
}

absl::Status NDArraySource::CopyRow(const Input& input, int64_t sample,
                                    TensorView view, int64_t row,
                                    absl::string_view what,
                                    size_t index) const {
  const absl::Span<uint8_t> destination = view.row(row);
  const size_t output_bytes =
      input.elements_per_sample * DTypeSize(output_dtype_);
  if (view.spec().dtype != output_dtype_ ||
      destination.size() != output_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch ", what, " tensor ", index, " has rows of ", destination.size(),
        " bytes of ", DTypeName(view.spec().dtype), "; NDArraySource writes ",
        output_bytes, " bytes of ", DTypeName(output_dtype_)));
  }
  const uint8_t* source = static_cast<const uint8_t*>(input.array.data) +
                          static_cast<size_t>(sample) * input.input_row_bytes;
  if (input.array.dtype == output_dtype_) {
    std::memcpy(destination.data(), source, output_bytes);
  } else {
    ConvertElements(input.array.dtype, output_dtype_, source,
                    destination.data(), input.elements_per_sample);
  }
  return absl::OkStatus();
}

absl::Status NDArraySource::ReadSample(Batch* batch, int64_t row,
                                       uint64_t* sample_id, bool* end_of_pass) {
  if (position_ >= order_.size()) {
    *end_of_pass = true;
    return absl::OkStatus();
  }
  if (batch->num_data() != data_inputs_.size() ||
      batch->num_label() != label_inputs_.size() || row < 0 ||
      row >= batch->batch_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "NDArraySource::ReadSample: batch with ", batch->num_data(), " data, ",
        batch->num_label(), " label tensors and ", batch->batch_size(),
        " rows cannot take row ", row, " of ", data_inputs_.size(), " data, ",
        label_inputs_.size(), " label arrays"));
  }
  const int64_t sample = order_[position_];
  for (size_t i = 0; i < data_inputs_.size(); ++i) {
    absl::Status copied =
        CopyRow(data_inputs_[i], sample, batch->data(i), row, "data", i);
    if (!copied.ok()) return copied;
  }
  for (size_t i = 0; i < label_inputs_.size(); ++i) {
    absl::Status copied =
        CopyRow(label_inputs_[i], sample, batch->label(i), row, "label", i);
    if (!copied.ok()) return copied;
  }
  *sample_id = static_cast<uint64_t>(sample);
  *end_of_pass = false;
  ++position_;
  return absl::OkStatus();
}

absl::Status NDArraySource::Rewind() {
  position_ = 0;
  ++pass_;
  return absl::OkStatus();
}

absl::Status NDArraySource::StartEpoch(int64_t epoch) {
  if (shuffle_) {
    std::iota(order_.begin(), order_.end(), part_begin_);
    random::Engine engine(seed_, kShuffleStream, static_cast<uint64_t>(epoch));
    random::Shuffle(absl::MakeSpan(order_), &engine);
  }
  epoch_ = epoch;
  pass_ = 0;
  position_ = 0;
  return absl::OkStatus();
}

SourcePosition NDArraySource::Tell() const {
  return SourcePosition{epoch_, pass_, static_cast<int64_t>(position_), {}};
}

absl::Status NDArraySource::Seek(const SourcePosition& position) {
  ITERD_RETURN_IF_ERROR(
      CheckSourcePosition(position, static_cast<int64_t>(order_.size()), 0));
  ITERD_RETURN_IF_ERROR(StartEpoch(position.epoch));
  pass_ = position.pass;
  position_ = static_cast<size_t>(position.position);
  return absl::OkStatus();
}

}  // namespace iterd::pipeline
