// File: server/pipeline/label_list.h
//
// LabelList: the labels of an ImageRecordIter `path_imglist` (.lst), looked
// up by the record header's id (MXNet's ImageLabelMap). Each line is
// "index \t label_1 \t ... \t label_k \t path"; the first `label_width`
// columns after the index are the labels, as MXNet reads them (extra columns,
// the path among them, are ignored). Blank lines are skipped; a repeated
// index keeps its last line, as MXNet's map assignment does.
//
// Thread-safety: immutable after Load/Parse; share it freely.

#ifndef ITERD_SERVER_PIPELINE_LABEL_LIST_H_
#define ITERD_SERVER_PIPELINE_LABEL_LIST_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iterd::pipeline {

class LabelList final {
 public:
  // Reads `path`. Errors name the path (NotFound, ...) or, for a bad line,
  // "path:line: reason" (InvalidArgument): an index that is not a
  // non-negative integer, fewer than label_width labels, a label that is not
  // a number. REQUIRES: label_width >= 1.
  static absl::StatusOr<LabelList> Load(const std::string& path,
                                        int label_width);
  // As Load, over text already in memory; `name` is used in messages.
  static absl::StatusOr<LabelList> Parse(absl::string_view text,
                                         absl::string_view name,
                                         int label_width);

  // The label_width labels of `id`, or nullptr when the list has no such id.
  const float* Find(uint64_t id) const;
  size_t size() const { return row_by_id_.size(); }
  int label_width() const { return label_width_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  int label_width_ = 1;
  std::unordered_map<uint64_t, size_t> row_by_id_;  // id -> first label.
  std::vector<float> labels_;
};

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_LABEL_LIST_H_
