// File: common/io/mapped_file.h
//
// MappedFile: a read-only private memory mapping of one whole file, shared by
// every reader that needs its bytes. The CSV reader parses straight from the
// mapping and the npy/npz loaders hand out arrays that point into it, so a file
// of any size costs no read buffer and the page cache is shared with other
// readers of the same file.
//
// Thread-safety: immutable after Open(); read it from any number of threads.
// Ownership: Open() returns a shared_ptr; the mapping is unmapped when the last
// owner goes away, so an array viewing the bytes keeps it alive by holding a
// copy of that shared_ptr. The descriptor is closed as soon as the mapping
// exists (the mapping keeps the file referenced, even if it is unlinked).
// REQUIRES: nobody truncates the file while it is mapped; reading a page past
// the new end would raise SIGBUS, which no Status can report.

#ifndef ITERD_COMMON_IO_MAPPED_FILE_H_
#define ITERD_COMMON_IO_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iterd::io {

// How the caller will walk the bytes; passed to madvise() as a readahead hint.
// A hint only: the bytes read are the same whatever it says.
enum class AccessPattern {
  kNormal,      // The kernel's default readahead (random batches of arrays).
  kSequential,  // Front to back once (CSV): aggressive readahead.
  kRandom,      // Scattered small reads: no readahead.
};

class MappedFile final {
 public:
  // Maps all of `path` read-only. Errors name the path: NotFound if it does
  // not exist, PermissionDenied if it cannot be read, InvalidArgument if it is
  // not a regular file (a folder, a FIFO), and the errno's code from open(),
  // fstat() or mmap() otherwise.
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(
      const std::string& path,
      AccessPattern access_pattern = AccessPattern::kNormal);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  // The file's bytes, valid while this object lives. An empty file has
  // data() == nullptr and size() == 0 (mmap rejects length 0), so parsers
  // report it as "too short" like any other truncated file.
  const uint8_t* data() const { return static_cast<const uint8_t*>(address_); }
  size_t size() const { return size_; }
  // The same bytes as text, for parsers that work on characters.
  absl::string_view contents() const {
    return {static_cast<const char*>(address_), size_};
  }

 private:
  MappedFile(std::string path, void* address, size_t size)
      : path_(std::move(path)), address_(address), size_(size) {}

  const std::string path_;
  void* const address_;  // nullptr when size_ == 0.
  const size_t size_;
};

}  // namespace iterd::io

#endif  // ITERD_COMMON_IO_MAPPED_FILE_H_
