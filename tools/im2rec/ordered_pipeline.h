// File: tools/im2rec/ordered_pipeline.h
//
// RunOrdered: computes produce(0..count-1) on a ThreadPool and hands each
// result to consume() on the calling thread in index order, with at most
// `max_in_flight` results computed ahead of the consumer (so memory stays
// bounded however slow the consumer is). im2rec encodes images in parallel
// this way while still writing records in list order.
//
// `produce` runs concurrently on the pool's threads and must be thread-safe;
// `consume` runs on the caller's thread only. If consume() returns an error,
// no further work is scheduled, the work in flight is finished and dropped,
// and the error is returned.

#ifndef ITERD_TOOLS_IM2REC_ORDERED_PIPELINE_H_
#define ITERD_TOOLS_IM2REC_ORDERED_PIPELINE_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace iterd::im2rec {

// REQUIRES: num_threads >= 1, max_in_flight >= 1.
absl::Status RunOrdered(
    size_t count, int num_threads, size_t max_in_flight,
    const std::function<absl::StatusOr<std::string>(size_t index)>& produce,
    const std::function<absl::Status(
        size_t index, absl::StatusOr<std::string> result)>& consume);

}  // namespace iterd::im2rec

#endif  // ITERD_TOOLS_IM2REC_ORDERED_PIPELINE_H_
