// File: common/csv/mapped_file.h
//
// MappedFile: a read-only memory map of one whole file, and ListInputFiles,
// which expands a CSV input path (a file, or a folder read as one stream) into
// the files to map. The CSV reader parses straight from the mapping, so a file
// of any size costs no read buffer and the page cache is shared with other
// readers of the same file.
//
// A MappedFile is immutable after Open() and safe to read from many threads.
// It owns the mapping (unmapped on destruction); the descriptor is closed as
// soon as the mapping exists.

#ifndef ITERD_COMMON_CSV_MAPPED_FILE_H_
#define ITERD_COMMON_CSV_MAPPED_FILE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iterd::csv {

class MappedFile final {
 public:
  // NotFound if `path` does not exist, InvalidArgument if it is not a regular
  // file, another error (naming the path and errno text) if it cannot be read.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(
      const std::string& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  // The file's bytes; empty for an empty file. Valid for the object's life.
  absl::string_view contents() const {
    return {static_cast<const char*>(data_), size_};
  }

 private:
  MappedFile(std::string path, void* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  void* data_;  // nullptr when size_ == 0 (mmap refuses empty ranges).
  size_t size_;
};

// The files a CSV input path stands for: {path} for a file; for a folder,
// every regular file in it (symlinks followed, no recursion) sorted by name,
// as MXNet concatenates a folder's files. NotFound naming `path` if it does
// not exist.
absl::StatusOr<std::vector<std::string>> ListInputFiles(
    const std::string& path);

}  // namespace iterd::csv

#endif  // ITERD_COMMON_CSV_MAPPED_FILE_H_
