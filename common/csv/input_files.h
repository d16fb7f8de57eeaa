// File: common/csv/input_files.h
//
// ListInputFiles: expands a CSVIter input path (a file, or a folder read as
// one stream, as MXNet does) into the files the reader maps, in stream order.
// Every listed folder entry goes through the caller's resolver (the daemon's
// data-root policy), so that a symlink in the folder cannot lead the reader
// outside the roots, and every file carries the name messages give it.
//
// Thread-safety: a free function with no state; call it from any thread.
// Ownership: returns plain paths; the caller opens them.

#ifndef ITERD_COMMON_CSV_INPUT_FILES_H_
#define ITERD_COMMON_CSV_INPUT_FILES_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace iterd::csv {

struct InputFile {
  std::string path;  // What to open.
  std::string name;  // How messages name it (show it with ShownName).

  bool operator==(const InputFile& other) const {
    return path == other.path && name == other.name;
  }
};

// Maps the path of a listed folder entry to the path to open, or refuses it
// (e.g. PermissionDenied for a symlink leading outside the data roots).
// NotFound means the entry is gone (a dangling symlink): it is skipped.
using EntryResolver =
    std::function<absl::StatusOr<std::string>(const std::string& path)>;

// The files a CSV input path stands for: {path} for a file; for a folder,
// every regular file in it, and every symlink the resolver accepts whose
// target is a regular file (no recursion), sorted by name, as MXNet
// concatenates a folder's files. Listed files are named `name`/entry. A null
// resolver follows symlinks anywhere (only for callers without roots). NotFound
// naming `name` if `path` does not exist; the resolver's error for a refused
// entry.
absl::StatusOr<std::vector<InputFile>> ListInputFiles(
    const std::string& path, const std::string& name,
    const EntryResolver& resolve_entry);

}  // namespace iterd::csv

#endif  // ITERD_COMMON_CSV_INPUT_FILES_H_
