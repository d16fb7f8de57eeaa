// File: common/io/held_file.h
//
// HeldFile: closes the window between resolving a path and opening it. The
// data-root policy resolves a client path to a canonical path (no symlink
// left in it); a reader opening that path later would follow a directory
// swapped for a symlink in between. HeldFile opens the canonical path with
// O_NOFOLLOW, checks that the opened file's own path (/proc/self/fd/N) is
// still exactly it, and keeps the descriptor open: readers that take a path
// then open path() ("/proc/self/fd/N"), which is that very file whatever
// happens to the names.
//
// Thread-safety: immutable; the descriptor is closed by the destructor.

#ifndef ITERD_COMMON_IO_HELD_FILE_H_
#define ITERD_COMMON_IO_HELD_FILE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/io/mapped_file.h"

namespace iterd::io {

class HeldFile final {
 public:
  // Opens `canonical` read-only (O_NONBLOCK: a FIFO does not block). Errors
  // name the file as `name`: NotFound, PermissionDenied when the file at
  // `canonical` is no longer reached without symlinks (it changed after it
  // was resolved), the open's errno otherwise.
  static absl::StatusOr<HeldFile> Open(const std::string& canonical,
                                       absl::string_view name);

  HeldFile(HeldFile&& other) noexcept;
  HeldFile& operator=(HeldFile&& other) = delete;
  HeldFile(const HeldFile&) = delete;
  HeldFile& operator=(const HeldFile&) = delete;
  ~HeldFile();

  // "/proc/self/fd/N": opening it opens the held file. Valid while this
  // object lives.
  const std::string& path() const { return path_; }

 private:
  explicit HeldFile(int fd);

  int fd_;
  std::string path_;
};

// Maps `canonical` (a path the data-root policy resolved) read-only through a
// HeldFile, so that the mapping is of the file that was checked, whatever
// happens to the names in between. Errors name the file as `name`, never
// "/proc/self/fd/N" nor the canonical path.
absl::StatusOr<std::shared_ptr<const MappedFile>> MapHeldFile(
    const std::string& canonical, absl::string_view name,
    AccessPattern access_pattern = AccessPattern::kNormal);

}  // namespace iterd::io

#endif  // ITERD_COMMON_IO_HELD_FILE_H_
