#include "server/pipeline/sample_source.h"

namespace iterd::pipeline {

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
