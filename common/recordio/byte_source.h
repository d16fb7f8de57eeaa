// File: common/recordio/byte_source.h
//
// ByteSource: the random-access bytes a RecordIO reader walks (LevelDB's
// RandomAccessFile). The default is a memory-mapped file; tests use an
// in-memory StringByteSource that can inject a read error.
//
// Thread-safety: every ByteSource here is immutable once built, so Read() may
// be called from any number of threads; readers on different threads share one
// source through a shared_ptr.
// Ownership: a view returned by Read() is valid while the source lives or until
// `scratch` changes, whichever comes first.

#ifndef ITERD_COMMON_RECORDIO_BYTE_SOURCE_H_
#define ITERD_COMMON_RECORDIO_BYTE_SOURCE_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/io/mapped_file.h"

namespace iterd::recordio {

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // The file name, for error messages.
  virtual const std::string& name() const = 0;
  virtual uint64_t size() const = 0;
  // Sets *result to the bytes [offset, offset + length). A source may point
  // *result into its own storage (no copy) or fill *scratch and point there.
  // REQUIRES: offset + length <= size(). An I/O error is returned as is; it is
  // never corruption, so no reader skips over it.
  virtual absl::Status Read(uint64_t offset, size_t length,
                            std::string* scratch,
                            absl::string_view* result) const = 0;
};

// Maps `path` (see io::MappedFile for the errors, which name the path).
absl::StatusOr<std::shared_ptr<const ByteSource>> OpenMappedByteSource(
    const std::string& path,
    io::AccessPattern access_pattern = io::AccessPattern::kNormal);

// Bytes held in memory, under a made-up name: the fake for tests and fuzzers.
class StringByteSource final : public ByteSource {
 public:
  StringByteSource(std::string name, std::string contents)
      : name_(std::move(name)), contents_(std::move(contents)) {}

  // Every later Read() touching a byte at or past `offset` returns
  // UnavailableError (a flaky disk). Call before sharing the source.
  void FailReadsFrom(uint64_t offset) { fail_reads_from_ = offset; }

  const std::string& name() const override { return name_; }
  uint64_t size() const override { return contents_.size(); }
  absl::Status Read(uint64_t offset, size_t length, std::string* scratch,
                    absl::string_view* result) const override;

 private:
  const std::string name_;
  const std::string contents_;
  uint64_t fail_reads_from_ = std::numeric_limits<uint64_t>::max();
};

}  // namespace iterd::recordio

#endif  // ITERD_COMMON_RECORDIO_BYTE_SOURCE_H_
