#include "common/tensor/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status/status_macros.h"

namespace iterd {
namespace {

// ---- zip byte format (PKWARE APPNOTE 6.3), the parts numpy writes ----------
//
// [local header 1][data 1] ... [local header n][data n]
// [central directory: one header per member]
// [zip64 end of central directory record][zip64 locator]   (zip64 only)
// [end of central directory record][comment]
//
// Local header (30 bytes + name + extra): signature 0, name length at 26,
// extra length at 28. Central header (46 bytes + name + extra + comment):
// flags at 8, method 10, CRC-32 16, compressed size 20, uncompressed size 24,
// name length 28, extra length 30, comment length 32, local header offset 42.
// End record (22 bytes + comment of up to 65535): entry count at 10,
// directory size 12, directory offset 16. Zip64 locator (20 bytes, just
// before the end record): zip64 end record offset at 8. Zip64 end record
// (56 bytes): entry count at 32, directory size 40, directory offset 48.
// Integers are little-endian.

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kMaxCommentSize = 0xFFFF;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint16_t kZip64ExtraId = 0x0001;
// A 32-bit size or offset with this value lives in the zip64 extra field.
constexpr uint64_t kZip64Placeholder = 0xFFFFFFFF;
constexpr uint16_t kEncryptedFlag = 1;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflated = 8;
// Deflate cannot compress better than about 1032:1; a larger claimed size is
// corruption, and refusing it avoids allocating a bogus huge buffer.
constexpr uint64_t kMaxDeflateRatio = 1032;

// Little-endian decoders: bytes in a mapping are never cast to structs.
uint16_t DecodeFixed16(const uint8_t* p) { return p[0] | (p[1] << 8); }
uint32_t DecodeFixed32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
         (uint32_t{p[3]} << 24);
}
uint64_t DecodeFixed64(const uint8_t* p) {
  return uint64_t{DecodeFixed32(p)} | (uint64_t{DecodeFixed32(p + 4)} << 32);
}

absl::Status Annotate(const absl::Status& status, absl::string_view where) {
  return absl::Status(status.code(),
                      absl::StrCat(where, ": ", status.message()));
}

// Reads the central directory (zip64-aware) of the archive in `file`.
absl::StatusOr<std::vector<ZipMember>> ReadCentralDirectory(const uint8_t* file,
                                                            size_t size) {
  const absl::Status not_zip = absl::InvalidArgumentError(
      "not a .npz (zip) archive: no end of central directory record");
  if (size < kEndSize) return not_zip;
  // The end record sits before a comment of unknown length: scan back.
  size_t end = size - kEndSize;
  const size_t lowest =
      size - kEndSize > kMaxCommentSize ? size - kEndSize - kMaxCommentSize : 0;
  while (DecodeFixed32(file + end) != kEndSignature) {
    if (end == lowest) return not_zip;
    --end;
  }
  uint64_t count = DecodeFixed16(file + end + 10);
  uint64_t directory_size = DecodeFixed32(file + end + 12);
  uint64_t directory_offset = DecodeFixed32(file + end + 16);
  if (end >= kZip64LocatorSize &&
      DecodeFixed32(file + end - kZip64LocatorSize) == kZip64LocatorSignature) {
    const uint64_t record = DecodeFixed64(file + end - kZip64LocatorSize + 8);
    if (size < kZip64EndSize || record > size - kZip64EndSize ||
        DecodeFixed32(file + record) != kZip64EndSignature) {
      return absl::DataLossError("bad zip64 end of central directory locator");
    }
    count = DecodeFixed64(file + record + 32);
    directory_size = DecodeFixed64(file + record + 40);
    directory_offset = DecodeFixed64(file + record + 48);
  }
  if (directory_offset > size || directory_size > size - directory_offset) {
    return absl::DataLossError(absl::StrCat(
        "central directory [", directory_offset, ", +", directory_size,
        ") lies beyond the end of the file (", size, " bytes)"));
  }
  std::vector<ZipMember> members;
  const uint8_t* p = file + directory_offset;
  const uint8_t* limit = p + directory_size;
  for (uint64_t i = 0; i < count; ++i) {
    if (static_cast<size_t>(limit - p) < kCentralHeaderSize ||
        DecodeFixed32(p) != kCentralHeaderSignature) {
      return absl::DataLossError(
          absl::StrCat("central directory entry ", i, " is damaged"));
    }
    ZipMember member;
    member.flags = DecodeFixed16(p + 8);
    member.method = DecodeFixed16(p + 10);
    member.crc = DecodeFixed32(p + 16);
    member.compressed_size = DecodeFixed32(p + 20);
    member.uncompressed_size = DecodeFixed32(p + 24);
    const size_t name_length = DecodeFixed16(p + 28);
    const size_t extra_length = DecodeFixed16(p + 30);
    const size_t comment_length = DecodeFixed16(p + 32);
    member.local_header_offset = DecodeFixed32(p + 42);
    if (static_cast<size_t>(limit - p) <
        kCentralHeaderSize + name_length + extra_length + comment_length) {
      return absl::DataLossError(
          absl::StrCat("central directory entry ", i, " is cut short"));
    }
    member.name.assign(reinterpret_cast<const char*>(p + kCentralHeaderSize),
                       name_length);
    // Zip64 extra field: 8-byte values for exactly those of uncompressed size,
    // compressed size and offset whose 32-bit field is 0xFFFFFFFF, in order.
    const uint8_t* extra = p + kCentralHeaderSize + name_length;
    const uint8_t* extra_end = extra + extra_length;
    while (extra_end - extra >= 4) {
      const uint16_t id = DecodeFixed16(extra);
      const size_t field_size = DecodeFixed16(extra + 2);
      const uint8_t* field = extra + 4;
      if (static_cast<size_t>(extra_end - field) < field_size) break;
      if (id == kZip64ExtraId) {
        const uint8_t* field_end = field + field_size;
        for (uint64_t* value :
             {&member.uncompressed_size, &member.compressed_size,
              &member.local_header_offset}) {
          if (*value != kZip64Placeholder) continue;
          if (field_end - field < 8) {
            return absl::DataLossError(
                absl::StrCat("member '", member.name, "': short zip64 field"));
          }
          *value = DecodeFixed64(field);
          field += 8;
        }
      }
      extra += 4 + field_size;
    }
    p += kCentralHeaderSize + name_length + extra_length + comment_length;
    members.push_back(std::move(member));
  }
  return members;
}

// Inflates the raw-deflate stream of `member` into a new heap buffer of its
// uncompressed size, and checks the CRC-32.
absl::StatusOr<std::shared_ptr<const uint8_t>> Inflate(
    const uint8_t* input, uint64_t input_size, const ZipMember& member) {
  if (member.uncompressed_size > input_size * kMaxDeflateRatio + 1024) {
    return absl::DataLossError("uncompressed size is impossibly large");
  }
  const uint64_t output_size = member.uncompressed_size;
  std::shared_ptr<uint8_t> output(
      new (std::nothrow) uint8_t[output_size > 0 ? output_size : 1],
      std::default_delete<uint8_t[]>());
  if (output == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot allocate ", output_size, " bytes to inflate"));
  }
  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) {
    return absl::InternalError("inflateInit2 failed");
  }
  // zlib counts in uInt: feed both sides in chunks of at most 1 GiB.
  constexpr uint64_t kChunk = uint64_t{1} << 30;
  uint64_t consumed = 0;
  uint64_t produced = 0;
  int result = Z_OK;
  while (result == Z_OK) {
    stream.next_in = const_cast<Bytef*>(input + consumed);
    stream.avail_in =
        static_cast<uInt>(std::min(kChunk, input_size - consumed));
    stream.next_out = output.get() + produced;
    stream.avail_out =
        static_cast<uInt>(std::min(kChunk, output_size - produced));
    const uInt in_before = stream.avail_in;
    const uInt out_before = stream.avail_out;
    result = inflate(&stream, Z_NO_FLUSH);
    consumed += in_before - stream.avail_in;
    produced += out_before - stream.avail_out;
    if (result == Z_BUF_ERROR ||
        (result == Z_OK && in_before == stream.avail_in &&
         out_before == stream.avail_out)) {
      break;  // No progress: input or output exhausted before the end.
    }
  }
  inflateEnd(&stream);
  if (result != Z_STREAM_END || produced != output_size) {
    return absl::DataLossError(absl::StrCat(
        "deflate stream is damaged or has the wrong size (zlib result ", result,
        ", ", produced, " of ", output_size, " bytes)"));
  }
  const uint32_t crc = static_cast<uint32_t>(
      crc32_z(crc32_z(0, Z_NULL, 0), output.get(), output_size));
  if (crc != member.crc) {
    return absl::DataLossError("CRC-32 mismatch after inflating");
  }
  return std::shared_ptr<const uint8_t>(std::move(output));
}

}  // namespace

// ---- ZipArchive -------------------------------------------------------------

absl::StatusOr<ZipArchive> ZipArchive::Open(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const io::MappedFile>> file =
      io::MappedFile::Open(path);
  if (!file.ok()) return file.status();  // Already names the path.
  absl::StatusOr<std::vector<ZipMember>> members =
      ReadCentralDirectory((*file)->data(), (*file)->size());
  if (!members.ok()) return Annotate(members.status(), path);
  return ZipArchive(path, *std::move(file), *std::move(members));
}

std::string ZipArchive::Describe(const ZipMember& member) const {
  return absl::StrCat(path_, " member '", member.name, "'");
}

absl::StatusOr<uint64_t> ZipArchive::DataOffset(const ZipMember& member) const {
  const uint8_t* file = file_->data();
  const size_t size = file_->size();
  const std::string where = Describe(member);
  // The local header repeats name and extra field with its own lengths; the
  // sizes come from the central directory (numpy's local headers may hold
  // 0xFFFFFFFF placeholders for zip64).
  const uint64_t local = member.local_header_offset;
  if (local > size || size - local < kLocalHeaderSize ||
      DecodeFixed32(file + local) != kLocalHeaderSignature) {
    return absl::DataLossError(
        absl::StrCat(where, ": bad local header at ", "offset ", local));
  }
  const uint64_t data_offset = local + kLocalHeaderSize +
                               DecodeFixed16(file + local + 26) +
                               DecodeFixed16(file + local + 28);
  if (data_offset > size || member.compressed_size > size - data_offset) {
    return absl::DataLossError(absl::StrCat(
        where, ": ", member.compressed_size, " bytes at offset ", data_offset,
        " run past the end of the file (", size, " bytes)"));
  }
  if ((member.flags & kEncryptedFlag) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": encrypted members are not supported"));
  }
  if (member.method != kMethodStored && member.method != kMethodDeflated) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": compression method ", member.method,
        " is not supported (only stored and deflated, as numpy writes)"));
  }
  if (member.method == kMethodStored &&
      member.compressed_size != member.uncompressed_size) {
    return absl::DataLossError(
        absl::StrCat(where, ": stored member with differing sizes"));
  }
  return data_offset;
}

absl::StatusOr<std::string> ZipArchive::ReadPrefix(const ZipMember& member,
                                                   size_t max_bytes) const {
  ITERD_ASSIGN_OR_RETURN(const uint64_t data_offset, DataOffset(member));
  const uint8_t* data = file_->data() + data_offset;
  if (member.method == kMethodStored) {
    return std::string(reinterpret_cast<const char*>(data),
                       static_cast<size_t>(std::min<uint64_t>(
                           max_bytes, member.compressed_size)));
  }
  // Up to max_bytes or the end of the stream, whatever the directory claims
  // (the caller compares the two).
  std::string prefix(max_bytes, '\0');
  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) {
    return absl::InternalError("inflateInit2 failed");
  }
  stream.next_in = const_cast<Bytef*>(data);
  stream.avail_in = static_cast<uInt>(
      std::min<uint64_t>(member.compressed_size, uint64_t{1} << 30));
  stream.next_out = reinterpret_cast<Bytef*>(prefix.data());
  stream.avail_out = static_cast<uInt>(max_bytes);
  int result = Z_OK;
  while (stream.avail_out > 0 && result == Z_OK) {
    const uInt out_before = stream.avail_out;
    result = inflate(&stream, Z_NO_FLUSH);
    if (result == Z_OK && stream.avail_out == out_before) break;
  }
  prefix.resize(max_bytes - stream.avail_out);
  inflateEnd(&stream);
  if (result != Z_OK && result != Z_STREAM_END && result != Z_BUF_ERROR) {
    return absl::DataLossError(absl::StrCat(
        Describe(member), ": deflate stream is damaged (zlib result ", result,
        " after ", prefix.size(), " bytes)"));
  }
  return prefix;
}

absl::StatusOr<ZipBytes> ZipArchive::Read(const ZipMember& member,
                                          uint64_t max_inflated_bytes) const {
  const std::string where = Describe(member);
  ITERD_ASSIGN_OR_RETURN(const uint64_t data_offset, DataOffset(member));
  const uint8_t* file = file_->data();
  if (member.method == kMethodDeflated &&
      member.uncompressed_size > max_inflated_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        where, ": declares ", member.uncompressed_size,
        " inflated bytes, more than the daemon's limit of ", max_inflated_bytes,
        " (limits.max_npz_member_bytes); save it uncompressed (np.savez), "
        "which is memory-mapped instead"));
  }
  ZipBytes bytes;
  if (member.method == kMethodStored) {
    bytes.data = file + data_offset;
    bytes.size = member.compressed_size;
    bytes.keep_alive = file_;
    return bytes;
  }
  absl::StatusOr<std::shared_ptr<const uint8_t>> inflated =
      Inflate(file + data_offset, member.compressed_size, member);
  if (!inflated.ok()) return Annotate(inflated.status(), where);
  bytes.data = inflated->get();
  bytes.size = member.uncompressed_size;
  bytes.keep_alive = *std::move(inflated);
  return bytes;
}

}  // namespace iterd
