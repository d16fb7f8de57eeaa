#include "common/csv/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace iterd::csv {
namespace {

absl::Status ErrnoError(int error_number, absl::string_view action,
                        absl::string_view path) {
  const std::string message = absl::StrCat("cannot ", action, " ", path, ": ",
                                           std::strerror(error_number));
  if (error_number == ENOENT) return absl::NotFoundError(message);
  if (error_number == EACCES || error_number == EPERM) {
    return absl::PermissionDeniedError(message);
  }
  return absl::UnavailableError(message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(
    const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open", path);
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const int error_number = errno;
    ::close(fd);
    return ErrnoError(error_number, "stat", path);
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a regular file"));
  }
  const size_t size = static_cast<size_t>(info.st_size);
  void* data = nullptr;
  if (size > 0) {
    data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      const int error_number = errno;
      ::close(fd);
      return ErrnoError(error_number, "mmap", path);
    }
    // The reader walks the file front to back: ask for aggressive readahead.
    ::madvise(data, size, MADV_SEQUENTIAL);
  }
  ::close(fd);  // The mapping keeps the file alive.
  return std::unique_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

absl::StatusOr<std::vector<std::string>> ListInputFiles(
    const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) {
    if (!error || error == std::errc::no_such_file_or_directory) {
      return absl::NotFoundError(
          absl::StrCat("CSV input ", path, " does not exist"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot stat ", path, ": ", error.message()));
  }
  if (!fs::is_directory(status)) return std::vector<std::string>{path};
  std::vector<std::string> files;
  for (fs::directory_iterator it(path, error), end; !error && it != end;
       it.increment(error)) {
    std::error_code entry_error;
    if (it->is_regular_file(entry_error)) files.push_back(it->path().string());
  }
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot list folder ", path, ": ", error.message()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace iterd::csv
