#include "tools/im2rec/list_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace iterd::im2rec {
namespace {

constexpr int kMaxReportedLines = 10;

absl::Status ErrnoStatus(const std::string& what, const std::string& path) {
  const int error = errno;
  const std::string message =
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

}  // namespace

std::string FormatListLine(const ListEntry& entry) {
  std::string line = absl::StrCat(entry.index, "\t");
  for (const float label : entry.labels) {
    absl::StrAppendFormat(&line, "%f\t", static_cast<double>(label));
  }
  absl::StrAppend(&line, entry.path, "\n");
  return line;
}

absl::StatusOr<ListEntry> ParseListLine(absl::string_view line) {
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(line), '\t');
  if (fields.size() < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected at least 3 tab-separated fields (index, "
                     "label, path), found ",
                     fields.size()));
  }
  for (absl::string_view& field : fields) {
    field = absl::StripAsciiWhitespace(field);
  }
  ListEntry entry;
  if (!absl::SimpleAtoi(fields.front(), &entry.index)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "index '", fields.front(), "' is not a non-negative integer"));
  }
  for (size_t i = 1; i + 1 < fields.size(); ++i) {
    float label = 0;
    if (!absl::SimpleAtof(fields[i], &label)) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", i, " '", fields[i], "' is not a number"));
    }
    entry.labels.push_back(label);
  }
  entry.path = std::string(fields.back());
  if (entry.path.empty()) {
    return absl::InvalidArgumentError("empty image path");
  }
  return entry;
}

absl::StatusOr<std::vector<ListEntry>> ReadListFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus("open list", path);
  std::vector<ListEntry> entries;
  std::vector<std::string> errors;
  int error_count = 0;
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<ListEntry> entry = ParseListLine(line);
    if (entry.ok()) {
      entries.push_back(*std::move(entry));
      continue;
    }
    if (++error_count <= kMaxReportedLines) {
      errors.push_back(
          absl::StrCat(path, ":", line_number, ": ", entry.status().message()));
    }
  }
  if (in.bad()) return ErrnoStatus("read list", path);
  if (error_count > 0) {
    if (error_count > kMaxReportedLines) {
      errors.push_back(absl::StrCat("... ", error_count - kMaxReportedLines,
                                    " more malformed lines"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed list ", path, ":\n", absl::StrJoin(errors, "\n")));
  }
  return entries;
}

absl::Status WriteListFile(const std::string& path,
                           const std::vector<ListEntry>& entries) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return ErrnoStatus("create list", path);
  bool ok = true;
  for (const ListEntry& entry : entries) {
    const std::string line = FormatListLine(entry);
    ok = ok && std::fwrite(line.data(), 1, line.size(), file) == line.size();
  }
  if (!ok) {
    const absl::Status status = ErrnoStatus("write list", path);
    std::fclose(file);
    return status;
  }
  if (std::fclose(file) != 0) return ErrnoStatus("close list", path);
  return absl::OkStatus();
}

}  // namespace iterd::im2rec
