#include "common/csv/input_files.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status/input_text.h"

namespace iterd::csv {
namespace {

namespace fs = std::filesystem;

// The file to open for one folder entry, or "" to skip it. Only regular files
// and symlinks are candidates; a symlink must pass the resolver and lead to a
// regular file.
absl::StatusOr<std::string> EntryToOpen(const fs::directory_entry& entry,
                                        const EntryResolver& resolve_entry) {
  std::error_code error;
  const fs::file_status own = entry.symlink_status(error);
  if (error || !(fs::is_regular_file(own) || fs::is_symlink(own))) {
    return std::string();  // Vanished, a folder, a FIFO, a device...
  }
  std::string path = entry.path().string();
  if (resolve_entry) {
    absl::StatusOr<std::string> resolved = resolve_entry(path);
    if (absl::IsNotFound(resolved.status())) return std::string();
    if (!resolved.ok()) return resolved.status();
    path = *std::move(resolved);
  }
  if (!fs::is_regular_file(fs::status(path, error)) || error) {
    return std::string();
  }
  return path;
}

}  // namespace

absl::StatusOr<std::vector<InputFile>> ListInputFiles(
    const std::string& path, const std::string& name,
    const EntryResolver& resolve_entry) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) {
    if (!error || error == std::errc::no_such_file_or_directory) {
      return absl::NotFoundError(
          absl::StrCat("CSV input ", ShownName(name), " does not exist"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot stat ", ShownName(name), ": ", error.message()));
  }
  if (!fs::is_directory(status)) {
    return std::vector<InputFile>{{path, name}};
  }
  std::vector<std::pair<std::string, InputFile>> entries;  // By entry name.
  for (fs::directory_iterator it(path, error), end; !error && it != end;
       it.increment(error)) {
    // The listing is a snapshot, not a lock on the folder: an entry that
    // vanished since is skipped.
    const std::string entry_name = it->path().filename().string();
    absl::StatusOr<std::string> to_open = EntryToOpen(*it, resolve_entry);
    if (!to_open.ok()) return to_open.status();
    if (to_open->empty()) continue;
    entries.push_back(
        {entry_name,
         {*std::move(to_open), absl::StrCat(name, "/", entry_name)}});
  }
  if (error) {
    return absl::UnavailableError(absl::StrCat(
        "cannot list folder ", ShownName(name), ": ", error.message()));
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<InputFile> files;
  files.reserve(entries.size());
  for (auto& entry : entries) files.push_back(std::move(entry.second));
  return files;
}

}  // namespace iterd::csv
