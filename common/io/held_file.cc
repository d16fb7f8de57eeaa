#include "common/io/held_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace iterd::io {

absl::StatusOr<HeldFile> HeldFile::Open(const std::string& canonical,
                                        absl::string_view name) {
  const int fd =
      ::open(canonical.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int error = errno;
    if (error == ELOOP) {  // The last component became a symlink.
      return absl::PermissionDeniedError(absl::StrCat(
          name, " changed into a symlink after it was resolved; not opened"));
    }
    return absl::ErrnoToStatus(error, absl::StrCat("cannot open ", name));
  }
  HeldFile held(fd);
  char target[PATH_MAX + 1];
  const ssize_t length =
      ::readlink(held.path_.c_str(), target, sizeof(target) - 1);
  if (length < 0 || absl::string_view(target, length) != canonical) {
    // A directory on the way was swapped for a symlink after the path was
    // resolved: the opened file is not the one the policy allowed.
    return absl::PermissionDeniedError(absl::StrCat(
        name,
        " moved after it was resolved (a directory on its path changed)"
        "; not opened"));
  }
  return held;
}

HeldFile::HeldFile(int fd)
    : fd_(fd), path_(absl::StrCat("/proc/self/fd/", fd)) {}

HeldFile::HeldFile(HeldFile&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

HeldFile::~HeldFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::shared_ptr<const MappedFile>> MapHeldFile(
    const std::string& canonical, absl::string_view name,
    AccessPattern access_pattern) {
  absl::StatusOr<HeldFile> held = HeldFile::Open(canonical, name);
  if (!held.ok()) return held.status();
  // The mapping keeps the file alive after the held descriptor closes.
  absl::StatusOr<std::shared_ptr<const MappedFile>> file =
      MappedFile::Open(held->path(), access_pattern);
  if (file.ok()) return file;
  // MappedFile names the path it opened.
  return absl::Status(
      file.status().code(),
      absl::StrReplaceAll(file.status().message(), {{held->path(), name}}));
}

}  // namespace iterd::io
