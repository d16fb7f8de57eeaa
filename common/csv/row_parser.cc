#include "common/csv/row_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status/input_text.h"

namespace iterd::csv {
namespace {

// Longer field text is cut in error messages: a binary file fed by mistake
// must not produce a megabyte-long Status.
constexpr size_t kMaxErrorText = 64;

enum class NumberStatus { kOk, kInvalid, kOutOfRange };

// The characters skipped around a field: spaces and tabs, except the one that
// is the delimiter (a tab- or space-separated file).
struct Spaces {
  char first;
  char second;
};

Spaces SpacesFor(char delimiter) {
  if (delimiter == ' ') return {'\t', '\t'};
  if (delimiter == '\t') return {' ', ' '};
  return {' ', '\t'};
}

inline const char* SkipSpaces(const char* p, const char* end, Spaces spaces) {
  while (p < end && (*p == spaces.first || *p == spaces.second)) ++p;
  return p;
}

// from_chars reports ERANGE for values a float cannot hold (1e39, 1e-50);
// MXNet's parser yields inf or 0 there, so do the same through double.
NumberStatus ParseFloatOutOfRange(const char* p, const char* end, float* value,
                                  const char** next) {
  double wide = 0;
  const auto [ptr, ec] = std::from_chars(p, end, wide);
  if (ec != std::errc()) return NumberStatus::kOutOfRange;
  if (std::fabs(wide) > std::numeric_limits<float>::max()) {
    *value = std::copysign(std::numeric_limits<float>::infinity(),
                           static_cast<float>(wide > 0 ? 1 : -1));
  } else {
    *value = static_cast<float>(wide);
  }
  *next = ptr;
  return NumberStatus::kOk;
}

inline bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

// Powers of ten that a float holds exactly: 10^k = 2^k * 5^k, and 5^10 =
// 9765625 still fits in float's 24-bit significand; 5^11 does not.
constexpr float kExactPowersOfTen[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                       1e6f, 1e7f, 1e8f, 1e9f, 1e10f};
constexpr int kMaxExactPower = 10;
// Integers up to 2^24 are exact in float.
constexpr uint64_t kMaxExactMantissa = uint64_t{1} << 24;
// More digits could overflow the uint64 accumulator; such fields (and all
// with more than 8 significant digits) are beyond the fast path anyway.
constexpr int kMaxFastDigits = 19;
// 10^18 - 1 < 2^63: 18 digits never overflow, whatever their value.
constexpr int kMaxFastIntegerDigits = 18;

// Clinger's fast path for the common field ("-3.141593", "12", "0.5e-3"):
// the decimal m * 10^e with m <= 2^24 and |e| <= 10 is m * 10^e or
// m / 10^-e computed in float, where both operands are exact, so IEEE's single
// correctly rounded operation gives the same bits as from_chars. Returns false
// for anything else (no digits, long mantissas, large exponents, inf/nan);
// the caller then falls back to from_chars. REQUIRES: p < end. On true, *next
// points where from_chars would stop.
inline bool ParseSimpleFloat(const char* p, const char* end, float* value,
                             const char** next) {
  const bool negative = *p == '-';
  if (negative) ++p;
  uint64_t mantissa = 0;
  const char* const integer_begin = p;
  while (p < end && IsDigit(*p)) {
    mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
    ++p;
  }
  int digits = static_cast<int>(p - integer_begin);
  int exponent = 0;
  if (p < end && *p == '.') {
    ++p;
    const char* const fraction_begin = p;
    while (p < end && IsDigit(*p)) {
      mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
      ++p;
    }
    exponent = -static_cast<int>(p - fraction_begin);
    digits -= exponent;
  }
  if (digits == 0 || digits > kMaxFastDigits) return false;
  if (p < end && (*p == 'e' || *p == 'E')) {
    // A short written exponent folds into `exponent`. "1e", "1e+" and long
    // exponents go to from_chars, whose handling of them is the reference.
    const char* q = p + 1;
    const bool negative_exponent = q < end && *q == '-';
    if (q < end && (*q == '-' || *q == '+')) ++q;
    if (q == end || !IsDigit(*q)) return false;
    int written = *q++ - '0';
    if (q < end && IsDigit(*q)) written = written * 10 + (*q++ - '0');
    if (q < end && IsDigit(*q)) return false;
    exponent += negative_exponent ? -written : written;
    p = q;
  }
  if (mantissa > kMaxExactMantissa || exponent < -kMaxExactPower ||
      exponent > kMaxExactPower) {
    return false;
  }
  float result = static_cast<float>(mantissa);
  result = exponent < 0 ? result / kExactPowersOfTen[-exponent]
                        : result * kExactPowersOfTen[exponent];
  *value = negative ? -result : result;  // -0.0 keeps its sign bit.
  *next = p;
  return true;
}

// REQUIRES: p < end, *p is not '+' (the caller strips it). On kOk, *next
// points past the number.
inline NumberStatus ParseNumber(const char* p, const char* end, float* value,
                                const char** next) {
  if (ParseSimpleFloat(p, end, value, next)) return NumberStatus::kOk;
  auto [ptr, ec] = std::from_chars(p, end, *value);
  if (ec == std::errc::result_out_of_range) {
    if (ParseFloatOutOfRange(p, end, value, &ptr) != NumberStatus::kOk) {
      return NumberStatus::kOutOfRange;
    }
  } else if (ec != std::errc()) {
    return NumberStatus::kInvalid;
  }
  *next = ptr;
  return NumberStatus::kOk;
}

// Integers are parsed as sign + unsigned magnitude so that hex takes a sign
// too and the range check is exact at both ends (int32 -2147483648 is fine,
// 2147483648 is out of range, never truncated).
template <typename T>
inline NumberStatus ParseNumber(const char* p, const char* end, T* value,
                                const char** next) {
  bool negative = false;
  if (*p == '+' || *p == '-') {
    negative = *p == '-';
    ++p;
  }
  // Fast path: up to 18 decimal digits cannot overflow the accumulator. Hex
  // ("0x1f") and longer digit runs take from_chars below.
  uint64_t magnitude = 0;
  const char* ptr = p;
  while (ptr < end && IsDigit(*ptr) && ptr - p < kMaxFastIntegerDigits) {
    magnitude = magnitude * 10 + static_cast<unsigned>(*ptr - '0');
    ++ptr;
  }
  if (ptr == p ||
      (ptr < end && (IsDigit(*ptr) || *ptr == 'x' || *ptr == 'X'))) {
    int base = 10;
    if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
      p += 2;
      base = 16;
    }
    magnitude = 0;
    const auto result = std::from_chars(p, end, magnitude, base);
    if (result.ec == std::errc::result_out_of_range) {
      return NumberStatus::kOutOfRange;
    }
    if (result.ec != std::errc()) return NumberStatus::kInvalid;
    ptr = result.ptr;
  }
  constexpr uint64_t kMax = std::numeric_limits<T>::max();
  if (magnitude > kMax + (negative ? 1 : 0)) return NumberStatus::kOutOfRange;
  *value = negative ? static_cast<T>(0 - magnitude) : static_cast<T>(magnitude);
  *next = ptr;
  return NumberStatus::kOk;
}

LineResult FieldError(RowError::Kind kind, int64_t field,
                      const char* field_begin, const char* end, char delimiter,
                      Spaces spaces, RowError* error) {
  const char* field_end = field_begin;
  while (field_end < end && *field_end != delimiter) ++field_end;
  while (field_end > field_begin &&
         (field_end[-1] == spaces.first || field_end[-1] == spaces.second)) {
    --field_end;
  }
  const size_t length =
      std::min(static_cast<size_t>(field_end - field_begin), kMaxErrorText);
  error->kind = kind;
  error->field = field;
  error->text.assign(field_begin, length);
  error->actual_count = 0;
  return LineResult::kError;
}

inline bool IsDigitOrMinus(char c) {
  return static_cast<unsigned char>(c - '0') < 10 || c == '-';
}

// The hot loop: one pass over the line, each value parsed in place and copied
// straight to `out` (memcpy: `out` may be unaligned, e.g. a batch row). The
// common field ("-1.25" followed by the delimiter) costs two compares besides
// the number's own parse (ParseSimpleFloat, or the decimal integer loop);
// spaces, '+', a trailing 'f' and errors take the slow branches.

template <typename T>
inline LineResult ParseLineOf(const char* p, const char* end,
                              const RowFormat& format, Spaces spaces,
                              uint8_t* out, RowError* error) {
  const char delimiter = format.delimiter;
  const int64_t expected = format.values_per_row;
  int64_t count = 0;
  while (p < end) {
    const char* field_begin = p;
    if (!IsDigitOrMinus(*p)) {
      p = SkipSpaces(p, end, spaces);
      if (p == end) break;  // Blank line, or spaces after a last delimiter.
      field_begin = p;
      if (*p == delimiter) {
        return FieldError(RowError::Kind::kEmptyField, count + 1, field_begin,
                          end, delimiter, spaces, error);
      }
      if (std::is_same_v<T, float> && *p == '+') {
        ++p;
        // from_chars would take the '-' of "+-1".
        if (p == end || *p == '-') {
          return FieldError(RowError::Kind::kNotANumber, count + 1, field_begin,
                            end, delimiter, spaces, error);
        }
      }
    }
    T value;
    const char* next = p;
    const NumberStatus status = ParseNumber(p, end, &value, &next);
    if (status != NumberStatus::kOk) {
      return FieldError(status == NumberStatus::kOutOfRange
                            ? RowError::Kind::kOutOfRange
                            : RowError::Kind::kNotANumber,
                        count + 1, field_begin, end, delimiter, spaces, error);
    }
    p = next;
    if (p < end && *p != delimiter) {
      if (std::is_same_v<T, float> && (*p == 'f' || *p == 'F')) ++p;  // 1.5f
      p = SkipSpaces(p, end, spaces);
      if (p < end && *p != delimiter) {  // "3x": junk after the number.
        return FieldError(RowError::Kind::kNotANumber, count + 1, field_begin,
                          end, delimiter, spaces, error);
      }
    }
    if (count < expected) {
      std::memcpy(out + count * sizeof(T), &value, sizeof(T));
    }
    ++count;
    if (p == end) break;
    ++p;  // The delimiter.
  }
  if (count == 0) return LineResult::kBlank;
  if (count != expected) {
    error->kind = RowError::Kind::kWrongCount;
    error->field = 0;
    error->text.clear();
    error->actual_count = count;
    return LineResult::kError;
  }
  return LineResult::kRow;
}

template <typename T>
void ParseBlockOf(absl::string_view text, const RowFormat& format,
                  ParsedBlock* block) {
  // Every value but the block's last takes a digit and a separator, and each
  // value written (by valid rows, and by a bad row before it is rejected) is
  // a different field of the text: at most (size + 1) / 2 + 1 values. Not
  // sized by values_per_row, which a client chooses: a huge row shape over a
  // small file must not reserve gigabytes per block. new[] leaves the memory
  // untouched, so only the pages really written are committed.
  const size_t capacity = (text.size() + 1) / 2 + 1;
  if (block->values == nullptr ||
      block->values_capacity < capacity * sizeof(T)) {
    block->values.reset(new uint8_t[capacity * sizeof(T)]);
    block->values_capacity = capacity * sizeof(T);
  }
  block->num_rows = 0;
  block->num_lines = 0;
  block->has_error = false;
  const Spaces spaces = SpacesFor(format.delimiter);
  const size_t row_bytes = format.values_per_row * sizeof(T);
  uint8_t* out = block->values.get();
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    const char* newline =
        static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* line_end = newline != nullptr ? newline : end;
    if (line_end > p && line_end[-1] == '\r') --line_end;
    ++block->num_lines;
    const LineResult result =
        ParseLineOf<T>(p, line_end, format, spaces, out, &block->error);
    if (result == LineResult::kRow) {
      out += row_bytes;
      ++block->num_rows;
    } else if (result == LineResult::kError) {
      block->has_error = true;
      block->error_line = block->num_lines - 1;
      return;
    }
    p = newline != nullptr ? newline + 1 : end;
  }
}

absl::string_view ErrorDescription(RowError::Kind kind) {
  switch (kind) {
    case RowError::Kind::kNotANumber:
      return "is not a valid";
    case RowError::Kind::kOutOfRange:
      return "is out of the range of";
    default:
      return "";
  }
}

}  // namespace

absl::Status ValidateRowFormat(const RowFormat& format) {
  if (format.dtype != DType::kFloat32 && format.dtype != DType::kInt32 &&
      format.dtype != DType::kInt64) {
    return absl::InvalidArgumentError(
        absl::StrCat("dtype: CSV values must be float32, int32 or int64, not ",
                     DTypeName(format.dtype)));
  }
  if (format.values_per_row < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "values_per_row must be >= 1, got ", format.values_per_row));
  }
  const char d = format.delimiter;
  if (d == '\n' || d == '\r' || d == '\0' || (d >= '0' && d <= '9') ||
      d == '+' || d == '-' || d == '.') {
    return absl::InvalidArgumentError(
        absl::StrCat("delimiter: character code ", static_cast<int>(d),
                     " cannot separate CSV numbers"));
  }
  return absl::OkStatus();
}

absl::Status RowErrorToStatus(const RowError& error, const RowFormat& format,
                              absl::string_view file, int64_t line) {
  const std::string where = absl::StrCat(file, ":", line, ": ");
  switch (error.kind) {
    case RowError::Kind::kWrongCount:
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expected ", format.values_per_row,
                       " values, found ", error.actual_count));
    case RowError::Kind::kEmptyField:
      return absl::InvalidArgumentError(
          absl::StrCat(where, "field ", error.field, " is empty"));
    case RowError::Kind::kNotANumber:
    case RowError::Kind::kOutOfRange:
      return absl::InvalidArgumentError(absl::StrCat(
          where, "field ", error.field, ": ", QuoteInput(error.text), " ",
          ErrorDescription(error.kind), " ", DTypeName(format.dtype)));
    case RowError::Kind::kNone:
      break;
  }
  return absl::InternalError(absl::StrCat(where, "unknown row error"));
}

LineResult ParseLine(absl::string_view line, const RowFormat& format,
                     uint8_t* out, RowError* error) {
  const char* p = line.data();
  const char* end = p + line.size();
  if (end > p && end[-1] == '\r') --end;
  const Spaces spaces = SpacesFor(format.delimiter);
  switch (format.dtype) {
    case DType::kFloat32:
      return ParseLineOf<float>(p, end, format, spaces, out, error);
    case DType::kInt32:
      return ParseLineOf<int32_t>(p, end, format, spaces, out, error);
    case DType::kInt64:
      return ParseLineOf<int64_t>(p, end, format, spaces, out, error);
    default:
      break;
  }
  ITERD_LOG(FATAL) << "ParseLine: unsupported dtype " << DTypeName(format.dtype)
                   << " (call ValidateRowFormat first)";
  return LineResult::kError;
}

void ParseBlock(absl::string_view text, const RowFormat& format,
                ParsedBlock* block) {
  switch (format.dtype) {
    case DType::kFloat32:
      return ParseBlockOf<float>(text, format, block);
    case DType::kInt32:
      return ParseBlockOf<int32_t>(text, format, block);
    case DType::kInt64:
      return ParseBlockOf<int64_t>(text, format, block);
    default:
      break;
  }
  ITERD_LOG(FATAL) << "ParseBlock: unsupported dtype "
                   << DTypeName(format.dtype)
                   << " (call ValidateRowFormat first)";
}

}  // namespace iterd::csv
