// File: tools/im2rec/list_file.h
//
// The .lst image-list format of MXNet's im2rec, one image per line:
//   index \t label [\t label ...] \t path \n
// written as "%d\t", then "%f\t" per label, then the path (MXNet 1.9.1).
// Reading follows im2rec.py's read_list: strip the line, split on TAB, strip
// the fields; field 0 is the integer index, the last field the path (relative
// to the image root), the fields between are float labels. Unlike read_list,
// which prints a message and drops a malformed line, ReadListFile rejects the
// whole list with an error naming the file and line, so that a .rec never
// silently misses images. Blank lines are skipped.
//
// Pure functions apart from the file I/O; thread-safe.

#ifndef ITERD_TOOLS_IM2REC_LIST_FILE_H_
#define ITERD_TOOLS_IM2REC_LIST_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iterd::im2rec {

struct ListEntry {
  uint64_t index = 0;         // the record key and IRHeader id
  std::vector<float> labels;  // at least one when read from a file
  std::string path;           // relative to the image root (or absolute)

  bool operator==(const ListEntry& other) const {
    return index == other.index && labels == other.labels && path == other.path;
  }
};

// One line, with its trailing '\n'.
std::string FormatListLine(const ListEntry& entry);

// Parses one line (without or with its line ending). InvalidArgument with the
// reason for fewer than 3 fields, a bad index (not a non-negative integer), a
// bad label or an empty path; `line` must not be blank.
absl::StatusOr<ListEntry> ParseListLine(absl::string_view line);

// Every entry of a .lst file, in file order. NotFound/PermissionDenied when
// it cannot be read; InvalidArgument "PATH:LINE: reason" (up to 10 lines)
// when lines are malformed.
absl::StatusOr<std::vector<ListEntry>> ReadListFile(const std::string& path);

// Writes (truncates) a .lst file with `entries` in order.
absl::Status WriteListFile(const std::string& path,
                           const std::vector<ListEntry>& entries);

}  // namespace iterd::im2rec

#endif  // ITERD_TOOLS_IM2REC_LIST_FILE_H_
