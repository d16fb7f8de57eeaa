#include "common/tensor/npy.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/io/mapped_file.h"
#include "common/status/status_macros.h"
#include "common/tensor/npy_format.h"
#include "common/tensor/zip_archive.h"

namespace iterd {
namespace {

constexpr uint16_t kZipMethodStored = 0;
// Bytes of a compressed member inflated to read its .npy header first: more
// than version 1.0's largest header (10 + 65535).
constexpr size_t kMaxNpzHeaderPeek = 1 << 17;

// Little-endian decoders: bytes in a mapping are never cast to structs.
uint16_t DecodeFixed16(const uint8_t* p) { return p[0] | (p[1] << 8); }
uint32_t DecodeFixed32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
         (uint32_t{p[3]} << 24);
}

// ---- .npy header ------------------------------------------------------------

// Reads the Python dict literal NumPy writes: string keys, and values that are
// strings, True/False or tuples of integers.
class HeaderParser final {
 public:
  explicit HeaderParser(absl::string_view text) : text_(text) {}

  absl::Status Parse(std::string* descr, bool* fortran_order,
                     std::vector<int64_t>* shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    if (!Consume('{')) return Error("expected '{'");
    while (!Consume('}')) {
      std::string key;
      if (!ParseString(&key)) return Error("expected a quoted key");
      if (!Consume(':')) return Error("expected ':'");
      if (key == "descr") {
        if (Peek() == '[') {
          return Error("structured dtypes (a list descr) are not supported");
        }
        if (!ParseString(descr)) return Error("descr is not a string");
        have_descr = true;
      } else if (key == "fortran_order") {
        if (ConsumeWord("True")) {
          *fortran_order = true;
        } else if (ConsumeWord("False")) {
          *fortran_order = false;
        } else {
          return Error("fortran_order is not True or False");
        }
        have_order = true;
      } else if (key == "shape") {
        if (!ParseShape(shape)) return Error("shape is not a tuple of ints");
        have_shape = true;
      } else {
        return Error(absl::StrCat("unexpected key '", key, "'"));
      }
      if (!Consume(',') && Peek() != '}') return Error("expected ',' or '}'");
    }
    if (!have_descr || !have_order || !have_shape) {
      return Error("needs the keys 'descr', 'fortran_order' and 'shape'");
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("bad .npy header dict at character ", position_, " (",
                     what, "): ", text_.substr(0, 200)));
  }
  void SkipSpace() {
    while (position_ < text_.size() &&
           absl::ascii_isspace(static_cast<unsigned char>(text_[position_]))) {
      ++position_;
    }
  }
  char Peek() {
    SkipSpace();
    return position_ < text_.size() ? text_[position_] : '\0';
  }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++position_;
    return true;
  }
  bool ConsumeWord(absl::string_view word) {
    SkipSpace();
    if (text_.substr(position_, word.size()) != word) return false;
    position_ += word.size();
    return true;
  }
  bool ParseString(std::string* out) {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') return false;
    const size_t end = text_.find(quote, position_ + 1);
    if (end == absl::string_view::npos) return false;
    *out = std::string(text_.substr(position_ + 1, end - position_ - 1));
    position_ = end + 1;
    return true;
  }
  bool ParseShape(std::vector<int64_t>* shape) {
    shape->clear();
    if (!Consume('(')) return false;
    while (!Consume(')')) {
      SkipSpace();
      int64_t value = 0;
      size_t digits = 0;
      while (
          position_ < text_.size() &&
          absl::ascii_isdigit(static_cast<unsigned char>(text_[position_]))) {
        if (value > (std::numeric_limits<int64_t>::max() - 9) / 10) {
          return false;
        }
        value = value * 10 + (text_[position_++] - '0');
        ++digits;
      }
      if (digits == 0) return false;
      // Python 2 wrote longs as "3L".
      if (position_ < text_.size() && text_[position_] == 'L') ++position_;
      shape->push_back(value);
      if (!Consume(',') && Peek() != ')') return false;
    }
    return true;
  }

  absl::string_view text_;
  size_t position_ = 0;
};

absl::StatusOr<DType> DTypeFromDescr(absl::string_view descr) {
  if (descr.size() == npy_format::kDescrSize) {
    // Byte order does not matter for single bytes, so even '>' is fine there.
    const char order = descr[0];
    const absl::string_view code = descr.substr(1);
    for (const npy_format::DescrCode& entry : npy_format::kDescrCodes) {
      if (entry.code != code) continue;
      const bool single_byte = DTypeSize(entry.dtype) == 1;
      if (order == npy_format::kLittleEndian ||
          order == npy_format::kNotApplicable || order == npy_format::kNative ||
          (order == npy_format::kBigEndian && single_byte)) {
        return entry.dtype;
      }
      if (order == npy_format::kBigEndian) {
        return absl::InvalidArgumentError(
            absl::StrCat("big-endian dtype '", descr,
                         "' is not supported: save "
                         "arr.astype(arr.dtype.newbyteorder('<'))"));
      }
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported dtype '", descr,
      "' (supported: float32, float64, float16, uint8, int8, int32, int64, "
      "bool; little-endian, not object or structured)"));
}

absl::Status Annotate(const absl::Status& status, absl::string_view where) {
  return absl::Status(status.code(),
                      absl::StrCat(where, ": ", status.message()));
}

struct NpyHeader {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  size_t data_offset = 0;  // Where the elements start.
};

// Parses the magic, version and header dict at the start of
// [bytes, bytes + size) (which may hold just the header).
absl::StatusOr<NpyHeader> ParseNpyHeader(const uint8_t* bytes, size_t size,
                                         absl::string_view where) {
  if (size < npy_format::kHeaderStartVersion1 ||
      std::memcmp(bytes, npy_format::kMagic, npy_format::kMagicSize) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": not a .npy file (no \\x93NUMPY magic)"));
  }
  const int major = bytes[npy_format::kMajorVersionOffset];
  const int minor = bytes[npy_format::kMinorVersionOffset];
  size_t header_start = 0;
  size_t header_length = 0;
  if (major == npy_format::kVersion1 && minor == npy_format::kMinorVersion) {
    header_start = npy_format::kHeaderStartVersion1;
    header_length = DecodeFixed16(bytes + npy_format::kHeaderLengthOffset);
  } else if ((major == npy_format::kVersion2 ||
              major == npy_format::kVersion3) &&
             minor == npy_format::kMinorVersion &&
             size >= npy_format::kHeaderStartVersion2) {
    // 3.0 only allows UTF-8 in the header: same parse.
    header_start = npy_format::kHeaderStartVersion2;
    header_length = DecodeFixed32(bytes + npy_format::kHeaderLengthOffset);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": unsupported .npy version ", major, ".", minor,
                     " (supported: 1.0, 2.0, 3.0)"));
  }
  if (header_length > size - header_start) {
    return absl::DataLossError(absl::StrCat(
        where, ": .npy header of ", header_length, " bytes is cut short (",
        size - header_start, " bytes left)"));
  }
  const absl::string_view header(
      reinterpret_cast<const char*>(bytes + header_start), header_length);
  std::string descr;
  bool fortran_order = false;
  NpyHeader array;
  absl::Status parsed =
      HeaderParser(header).Parse(&descr, &fortran_order, &array.shape);
  if (!parsed.ok()) return Annotate(parsed, where);
  absl::StatusOr<DType> dtype = DTypeFromDescr(descr);
  if (!dtype.ok()) return Annotate(dtype.status(), where);
  array.dtype = *dtype;
  if (fortran_order) {
    return absl::InvalidArgumentError(absl::StrCat(
        where,
        ": fortran_order is True; iterd reads C-order arrays only: "
        "save with np.ascontiguousarray(arr)"));
  }
  array.data_offset = header_start + header_length;
  return array;
}

// Parses a .npy image held in [bytes, bytes + size); the Array points into it.
absl::StatusOr<Array> ParseNpy(const uint8_t* bytes, size_t size,
                               std::shared_ptr<const void> keep_alive,
                               absl::string_view where) {
  ITERD_ASSIGN_OR_RETURN(NpyHeader header, ParseNpyHeader(bytes, size, where));
  Array array;
  array.dtype = header.dtype;
  array.shape = std::move(header.shape);
  const size_t data_offset = header.data_offset;
  const size_t available = size - data_offset;
  // Overflow-safe: a product past what the file holds is "too big" however
  // large it is, unless some axis is 0.
  uint64_t needed = DTypeSize(array.dtype);
  bool too_big = false;
  for (int64_t dim : array.shape) {
    const uint64_t extent = static_cast<uint64_t>(dim);
    if (extent != 0 && needed > available / extent) too_big = true;
    needed = too_big ? needed : needed * extent;
  }
  if (std::find(array.shape.begin(), array.shape.end(), 0) !=
      array.shape.end()) {
    too_big = false;
    needed = 0;
  }
  if (too_big || needed > available) {
    return absl::DataLossError(
        absl::StrCat(where, ": shape (", absl::StrJoin(array.shape, ", "),
                     ") of ", DTypeName(array.dtype), " needs more than the ",
                     available, " data bytes the file holds (truncated?)"));
  }
  array.data = bytes + data_offset;
  array.keep_alive = std::move(keep_alive);
  return array;
}

// The zip directory's inflated size of a compressed member is a claim: it
// must be exactly what the member's own .npy header describes (numpy writes
// nothing else), so that a tiny array cannot make the reader allocate a
// large buffer. Reads only the member's first bytes.
absl::Status CheckDeclaredSize(const ZipArchive& archive,
                               const ZipMember& member) {
  const std::string where = archive.Describe(member);
  ITERD_ASSIGN_OR_RETURN(const std::string prefix,
                         archive.ReadPrefix(member, kMaxNpzHeaderPeek));
  ITERD_ASSIGN_OR_RETURN(
      const NpyHeader header,
      ParseNpyHeader(reinterpret_cast<const uint8_t*>(prefix.data()),
                     prefix.size(), where));
  uint64_t needed = DTypeSize(header.dtype);
  bool overflow = false;
  for (int64_t dim : header.shape) {
    overflow = overflow || __builtin_mul_overflow(
                               needed, static_cast<uint64_t>(dim), &needed);
  }
  overflow =
      overflow || __builtin_add_overflow(needed, header.data_offset, &needed);
  if (overflow || needed != member.uncompressed_size) {
    return absl::DataLossError(absl::StrCat(
        where, ": the zip directory declares ", member.uncompressed_size,
        " inflated bytes but its .npy header (shape (",
        absl::StrJoin(header.shape, ", "), ") of ", DTypeName(header.dtype),
        ") needs ",
        overflow ? std::string("more than 2^64") : absl::StrCat(needed)));
  }
  return absl::OkStatus();
}

std::string KeyOf(const ZipMember& member) {
  absl::string_view name = member.name;
  if (absl::EndsWith(name, ".npy")) name.remove_suffix(4);
  return std::string(name);
}

}  // namespace

int64_t Array::num_elements() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

absl::StatusOr<Array> LoadNpy(const std::string& path) {
  ITERD_ASSIGN_OR_RETURN(std::shared_ptr<const io::MappedFile> file,
                         io::MappedFile::Open(path));
  const uint8_t* bytes = file->data();
  const size_t size = file->size();
  return ParseNpy(bytes, size, std::move(file), path);
}

absl::StatusOr<Array> LoadNpz(const std::string& path, const std::string& key,
                              uint64_t max_inflated_bytes) {
  ITERD_ASSIGN_OR_RETURN(ZipArchive archive, ZipArchive::Open(path));
  const std::vector<ZipMember>& members = archive.members();
  std::vector<std::string> keys;
  for (const ZipMember& member : members) keys.push_back(KeyOf(member));
  const std::string listing =
      absl::StrCat("available keys: [", absl::StrJoin(keys, ", "), "]");
  const ZipMember* found = nullptr;
  if (key.empty()) {
    if (members.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": npz_key is empty but the archive holds ",
                       members.size(), " arrays; name one (", listing, ")"));
    }
    found = &members.front();
  } else {
    for (const ZipMember& member : members) {
      if (member.name == key + ".npy") found = &member;
    }
    if (found == nullptr) {
      return absl::NotFoundError(absl::StrCat(path, ": no array '", key,
                                              "' in the archive; ", listing));
    }
  }
  if (found->method != kZipMethodStored) {
    ITERD_RETURN_IF_ERROR(CheckDeclaredSize(archive, *found));
  }
  ITERD_ASSIGN_OR_RETURN(ZipBytes bytes,
                         archive.Read(*found, max_inflated_bytes));
  return ParseNpy(bytes.data, bytes.size, std::move(bytes.keep_alive),
                  archive.Describe(*found));
}

Array FromBuffer(DType dtype, std::vector<int64_t> shape,
                 std::shared_ptr<const void> keep_alive, const void* data) {
  Array array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  array.data = data;
  array.keep_alive = std::move(keep_alive);
  return array;
}

}  // namespace iterd
