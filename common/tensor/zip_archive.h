// File: common/tensor/zip_archive.h
//
// ZipArchive: the central directory (zip64-aware) of a zip archive held in an
// io::MappedFile, and access to one member's bytes: STORED members in place in
// the mapping (no copy), DEFLATED ones inflated by zlib into a heap buffer
// whose CRC-32 is checked. It reads what np.savez / np.savez_compressed write;
// it does not support encryption, multi-disk archives or other methods. Every
// error message starts with the archive path (and the member name).
//
// Thread-safety: immutable after creation; share it freely between threads.
// Ownership: a ZipArchive shares its io::MappedFile; ZipBytes
// keep whatever holds their bytes (mapping or inflated buffer) alive.

#ifndef ITERD_COMMON_TENSOR_ZIP_ARCHIVE_H_
#define ITERD_COMMON_TENSOR_ZIP_ARCHIVE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/io/mapped_file.h"

namespace iterd {

// One central directory entry, sizes and offset already widened from zip64
// extra fields.
struct ZipMember {
  std::string name;
  uint16_t flags = 0;   // General purpose bit flags; bit 0 means encrypted.
  uint16_t method = 0;  // 0 STORED, 8 DEFLATED.
  uint32_t crc = 0;     // CRC-32 of the uncompressed bytes.
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

// A member's uncompressed bytes, valid while `keep_alive` lives.
struct ZipBytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::shared_ptr<const void> keep_alive;
};

class ZipArchive final {
 public:
  // Maps `path` and reads its central directory. Errors from
  // io::MappedFile::Open; InvalidArgument when there is no end of central
  // directory record (not a zip); DataLoss when the directory or a zip64 record
  // is damaged or lies beyond the end of the file.
  static absl::StatusOr<ZipArchive> Open(const std::string& path);

  // Movable (a StatusOr holds it), not copyable: copies would share the
  // mapping anyway, so there is never a reason to duplicate the directory.
  ZipArchive(ZipArchive&&) = default;
  ZipArchive& operator=(ZipArchive&&) = default;
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::string& path() const { return path_; }
  // In central directory order.
  const std::vector<ZipMember>& members() const { return members_; }

  // "<path> member '<name>'": the prefix of every error about `member`, for
  // callers that report errors in the member's contents too.
  std::string Describe(const ZipMember& member) const;

  // The uncompressed bytes of `member` (one of members()). DataLoss when its
  // local header or data lie outside the file, a STORED member's two sizes
  // differ, or a DEFLATED stream is damaged, has the wrong size or fails its
  // CRC-32; InvalidArgument for encrypted members and other methods;
  // ResourceExhausted when a DEFLATED member declares more than
  // `max_inflated_bytes` (checked before allocating; inflating never goes
  // past the declared size) or the inflated buffer cannot be allocated.
  absl::StatusOr<ZipBytes> Read(const ZipMember& member,
                                uint64_t max_inflated_bytes = UINT64_MAX) const;

  // The first `max_bytes` bytes of `member` (fewer if it ends sooner, by its
  // stored or deflated data, not by its declared size), inflating only those:
  // to read a header before trusting the directory's sizes. Errors as Read,
  // except that the size and CRC-32 are not checked.
  absl::StatusOr<std::string> ReadPrefix(const ZipMember& member,
                                         size_t max_bytes) const;

 private:
  ZipArchive(std::string path, std::shared_ptr<const io::MappedFile> file,
             std::vector<ZipMember> members)
      : path_(std::move(path)),
        file_(std::move(file)),
        members_(std::move(members)) {}

  // Where `member`'s stored bytes start, after checking its local header and
  // that they lie inside the file and are not encrypted.
  absl::StatusOr<uint64_t> DataOffset(const ZipMember& member) const;

  std::string path_;
  std::shared_ptr<const io::MappedFile> file_;
  std::vector<ZipMember> members_;
};

}  // namespace iterd

#endif  // ITERD_COMMON_TENSOR_ZIP_ARCHIVE_H_
