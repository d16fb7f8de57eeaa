#include "server/pipeline/pipeline_kinds.h"

#include "server/pipeline/csv_factory.h"
#include "server/pipeline/image_iter_factory.h"
#include "server/pipeline/image_record_factory.h"
#include "server/pipeline/ndarray_factory.h"

namespace iterd::pipeline {

const PipelineKind* FindPipelineKind(const v1::PipelineConfig& config) {
  switch (config.kind_case()) {
    case v1::PipelineConfig::kNdarray:
      return &NDArrayKind();
    case v1::PipelineConfig::kCsv:
      return &CsvKind();
    case v1::PipelineConfig::kImageRecord:
      return &ImageRecordKind();
    case v1::PipelineConfig::kImageIter:
      return &ImageIterKind();
    case v1::PipelineConfig::KIND_NOT_SET:
      break;
  }
  return nullptr;
}

absl::string_view PipelineKindNames() {
  return "ndarray, csv, image_record, image_iter";
}

}  // namespace iterd::pipeline
