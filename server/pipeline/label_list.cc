#include "server/pipeline/label_list.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/io/mapped_file.h"

namespace iterd::pipeline {
namespace {

absl::Status LineError(absl::string_view name, int64_t line,
                       absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(name, ":", line, ": ", problem));
}

// A column as quoted in a message: a hostile file's line can be megabytes.
std::string Shown(absl::string_view column) {
  constexpr size_t kMaxShown = 64;
  if (column.size() <= kMaxShown) return std::string(column);
  return absl::StrCat(column.substr(0, kMaxShown), "... (", column.size(),
                      " bytes)");
}

}  // namespace

absl::StatusOr<LabelList> LabelList::Load(const std::string& path,
                                          int label_width) {
  absl::StatusOr<std::shared_ptr<const io::MappedFile>> file =
      io::MappedFile::Open(path, io::AccessPattern::kSequential);
  if (!file.ok()) return file.status();
  return Parse((*file)->contents(), path, label_width);
}

absl::StatusOr<LabelList> LabelList::Parse(absl::string_view text,
                                           absl::string_view name,
                                           int label_width) {
  if (label_width < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": label_width must be >= 1, got ", label_width));
  }
  LabelList list;
  list.name_ = std::string(name);
  list.label_width_ = label_width;
  int64_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    const std::vector<absl::string_view> columns = absl::StrSplit(line, '\t');
    uint64_t id = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(columns[0]), &id)) {
      return LineError(name, line_number,
                       absl::StrCat("index \"", Shown(columns[0]),
                                    "\" is not a non-negative integer"));
    }
    if (columns.size() < static_cast<size_t>(label_width) + 1) {
      return LineError(name, line_number,
                       absl::StrCat("needs ", label_width,
                                    " label column(s) after the index, has ",
                                    columns.size() - 1));
    }
    const size_t first = list.labels_.size();
    for (int i = 0; i < label_width; ++i) {
      float value = 0;
      const absl::string_view column =
          absl::StripAsciiWhitespace(columns[1 + i]);
      if (!absl::SimpleAtof(column, &value)) {
        list.labels_.resize(first);
        return LineError(
            name, line_number,
            absl::StrCat("label \"", Shown(column), "\" is not a number"));
      }
      list.labels_.push_back(value);
    }
    list.row_by_id_[id] = first;
  }
  return list;
}

const float* LabelList::Find(uint64_t id) const {
  const auto found = row_by_id_.find(id);
  if (found == row_by_id_.end()) return nullptr;
  return labels_.data() + found->second;
}

}  // namespace iterd::pipeline
