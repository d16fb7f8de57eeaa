#include "common/csv/input_files.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace iterd::csv {

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
    // An entry that vanished or cannot be stat'ed is not a regular file; the
    // listing is a snapshot, not a lock on the folder.
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
