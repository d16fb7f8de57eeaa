// File: common/csv/row_parser.h
//
// The CSV row parser: turns one line, or a block of whole lines, into packed
// typed values (float32, int32 or int64), written straight into the caller's
// buffer. This is the hot loop of CSVIter; it allocates nothing per field and
// formats no text unless a line is bad.
//
// Accepted syntax (MXNet's dmlc parser, minus its silent skips): fields split
// by one delimiter; spaces and tabs around a field; a trailing delimiter
// (`1,2,3,`); CRLF; blank (or all-space) lines are skipped. float32: what
// std::from_chars takes plus a leading '+', `inf`/`infinity`/`nan` in any case
// and an optional trailing `f`. int32/int64: decimal or `0x` hex, with sign.
// DEVIATION from MXNet, on purpose: an empty or non-numeric field (`1,,3`,
// `abc`, `3x`) and an int32 out of range are errors, not dropped or truncated
// values, and `010` is decimal 10 (MXNet's strtoll reads octal 8).
//
// Pure functions; thread-safe.

#ifndef ITERD_COMMON_CSV_ROW_PARSER_H_
#define ITERD_COMMON_CSV_ROW_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/tensor/dtype.h"

namespace iterd::csv {

// How the rows of one CSV stream are read.
struct RowFormat {
  char delimiter = ',';
  DType dtype = DType::kFloat32;  // kFloat32, kInt32 or kInt64.
  int64_t values_per_row = 1;  // Every non-blank line holds exactly this many.

  size_t row_bytes() const { return values_per_row * DTypeSize(dtype); }
};

// InvalidArgument naming the bad field of `format` (dtype, values_per_row,
// delimiter).
absl::Status ValidateRowFormat(const RowFormat& format);

// Why a line was rejected. Plain data, so the hot loop never formats text; the
// caller, who knows the file name and absolute line number, makes the Status.
struct RowError {
  enum class Kind { kNone, kEmptyField, kNotANumber, kOutOfRange, kWrongCount };
  Kind kind = Kind::kNone;
  int64_t field = 0;         // 1-based field number (field errors).
  std::string text;          // The field's text, trimmed, at most 64 chars.
  int64_t actual_count = 0;  // Values found on the line (kWrongCount).
};

// InvalidArgument: "<file>:<line>: field 3: 'abc' is not a float32" or
// "<file>:<line>: expected 32 values, found 31". `line` is 1-based.
absl::Status RowErrorToStatus(const RowError& error, const RowFormat& format,
                              absl::string_view file, int64_t line);

enum class LineResult { kRow, kBlank, kError };

// Parses one line (no '\n'; a trailing '\r' is ignored). On kRow writes
// format.values_per_row values of format.dtype to `out` (unaligned is fine).
// On kError fills *error; `out` may then hold partial values. REQUIRES: `out`
// has format.row_bytes() bytes.
LineResult ParseLine(absl::string_view line, const RowFormat& format,
                     uint8_t* out, RowError* error);

// The rows of a block of whole lines.
struct ParsedBlock {
  // num_rows * format.row_bytes() packed values. ParseBlock reuses a buffer
  // left here if values_capacity (bytes) is enough, so a reader can recycle
  // buffers instead of faulting in fresh pages for every block.
  std::unique_ptr<uint8_t[]> values;
  size_t values_capacity = 0;
  int64_t num_rows = 0;
  // Lines looked at, blank ones included; when has_error, up to and including
  // the bad line (the rest of the block is not parsed).
  int64_t num_lines = 0;
  bool has_error = false;
  RowError error;
  int64_t error_line = 0;  // 0-based index of the bad line in the block.
};

// Parses every line of `text` (a last line without '\n' counts) into *block,
// stopping at the first bad line.
void ParseBlock(absl::string_view text, const RowFormat& format,
                ParsedBlock* block);

}  // namespace iterd::csv

#endif  // ITERD_COMMON_CSV_ROW_PARSER_H_
