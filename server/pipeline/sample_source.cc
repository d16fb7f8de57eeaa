#include "server/pipeline/sample_source.h"

#include "absl/strings/str_cat.h"

namespace iterd::pipeline {

absl::Status CheckSourcePosition(const SourcePosition& position,
                                 int64_t entries, size_t cursor_size) {
  auto refuse = [](absl::string_view field, int64_t value,
                   absl::string_view rule) {
    return absl::InvalidArgumentError(
        absl::StrCat("source position: ", field, " ", value, " ", rule));
  };
  if (position.epoch < 0) return refuse("epoch", position.epoch, "< 0");
  if (position.pass < 0) return refuse("pass", position.pass, "< 0");
  if (position.position < 0) {
    return refuse("position", position.position, "< 0");
  }
  if (entries >= 0 && position.position > entries) {
    return refuse("position", position.position,
                  absl::StrCat("is past the ", entries, " samples of a pass"));
  }
  if (position.cursor.size() != cursor_size) {
    return refuse("cursor size", static_cast<int64_t>(position.cursor.size()),
                  absl::StrCat("is not ", cursor_size));
  }
  return absl::OkStatus();
}

absl::Status SampleSource::ReadSamples(Batch* batch, int64_t first_row,
                                       int64_t count, uint64_t* ids,
                                       int64_t* filled, bool* end_of_pass) {
  *filled = 0;
  *end_of_pass = false;
  while (*filled < count) {
    absl::Status status =
        ReadSample(batch, first_row + *filled, &ids[*filled], end_of_pass);
    if (!status.ok() || *end_of_pass) return status;
    ++*filled;
  }
  return absl::OkStatus();
}

}  // namespace iterd::pipeline
