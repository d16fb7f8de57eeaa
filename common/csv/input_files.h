// File: common/csv/input_files.h
//
// ListInputFiles: expands a CSVIter input path (a file, or a folder read as
// one stream, as MXNet does) into the files the reader maps, in stream order.
//
// Thread-safety: a free function with no state; call it from any thread.
// Ownership: returns plain paths; the caller opens them.

#ifndef ITERD_COMMON_CSV_INPUT_FILES_H_
#define ITERD_COMMON_CSV_INPUT_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace iterd::csv {

// The files a CSV input path stands for: {path} for a file; for a folder,
// every regular file in it (symlinks followed, no recursion) sorted by name,
// as MXNet concatenates a folder's files. NotFound naming `path` if it does
// not exist.
absl::StatusOr<std::vector<std::string>> ListInputFiles(
    const std::string& path);

}  // namespace iterd::csv

#endif  // ITERD_COMMON_CSV_INPUT_FILES_H_
