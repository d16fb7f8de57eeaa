#include "common/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace iterd::io {
namespace {

// "cannot <action> <path>: <strerror>" with the errno's canonical code
// (ENOENT is NotFound, EACCES PermissionDenied, ...).
absl::Status ErrnoError(int error_number, absl::string_view action,
                        absl::string_view path) {
  return absl::ErrnoToStatus(error_number,
                             absl::StrCat("cannot ", action, " ", path));
}

int MadviseAdvice(AccessPattern access_pattern) {
  switch (access_pattern) {
    case AccessPattern::kSequential:
      return MADV_SEQUENTIAL;
    case AccessPattern::kRandom:
      return MADV_RANDOM;
    case AccessPattern::kNormal:
      break;
  }
  return MADV_NORMAL;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::Open(
    const std::string& path, AccessPattern access_pattern) {
  // O_NONBLOCK: a blocking open() of a FIFO waits for a writer, forever if
  // none comes, and would take a pool thread with it. The S_ISREG check below
  // then refuses the FIFO; for a regular file the flag changes nothing.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open", path);
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const int error_number = errno;
    ::close(fd);
    return ErrnoError(error_number, "stat", path);
  }
  // Checked before mmap: a folder's st_size is not its contents, and mmap of
  // a FIFO or device would fail with a less helpful ENODEV.
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot map ", path, ": it is not a regular file"));
  }
  // Cleared only for clarity: O_NONBLOCK has no effect on mmap of a regular
  // file, and the descriptor is closed right after mapping.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  const size_t size = static_cast<size_t>(info.st_size);
  void* address = nullptr;
  if (size > 0) {  // mmap rejects length 0.
    address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      const int error_number = errno;
      ::close(fd);
      return ErrnoError(error_number, "mmap", path);
    }
    if (access_pattern != AccessPattern::kNormal) {
      // Only a hint: if the kernel refuses it, the bytes are still readable.
      ::madvise(address, size, MadviseAdvice(access_pattern));
    }
  }
  ::close(fd);  // The mapping keeps the file referenced.
  // The constructor is private, so std::make_shared cannot call it.
  return std::shared_ptr<const MappedFile>(new MappedFile(path, address, size));
}

MappedFile::~MappedFile() {
  if (address_ != nullptr) ::munmap(address_, size_);
}

}  // namespace iterd::io
