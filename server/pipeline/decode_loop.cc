#include "server/pipeline/decode_loop.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/concurrency/parallel_for.h"
#include "common/logging.h"
#include "common/status/status_macros.h"

namespace iterd::pipeline {
namespace {

// The first skips are logged in full, then one in kLogEvery, so the log
// stays readable and the count stays exact.
constexpr int64_t kLoggedSkipsInFull = 20;
constexpr int64_t kLogEvery = 1000;

}  // namespace

void SkipRecorder::Decoded(int64_t items, int64_t nanoseconds) {
  absl::MutexLock lock(&mu_);
  stats_.records_decoded += items;
  stats_.decode_nanoseconds += nanoseconds;
}

void SkipRecorder::Skipped(absl::string_view where, absl::string_view reason) {
  int64_t skipped = 0;
  {
    absl::MutexLock lock(&mu_);
    skipped = ++stats_.records_skipped;
    if (stats_.skipped_examples.size() < kMaxSkippedExamples) {
      stats_.skipped_examples.push_back(absl::StrCat(where, ": ", reason));
    }
  }
  if (skipped <= kLoggedSkipsInFull || skipped % kLogEvery == 0) {
    ITERD_LOG(WARNING) << iterator_ << " skipped a bad item at " << where
                       << " (" << skipped << " skipped so far): " << reason;
  }
}

SourceStats SkipRecorder::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::Status FillDecodedRows(const DecodeLoop& loop, SkipRecorder* recorder,
                             Batch* batch, int64_t first_row, int64_t count,
                             uint64_t* ids, int64_t* filled,
                             bool* end_of_pass) {
  *filled = 0;
  *end_of_pass = false;
  std::vector<DecodedItem> items;
  std::vector<int64_t> nanoseconds;
  // Each round decodes as many items as rows are missing; bad items leave
  // rows that the next round fills.
  while (*filled < count) {
    ITERD_ASSIGN_OR_RETURN(const int64_t claimed, loop.claim(count - *filled));
    if (claimed == 0) {
      *end_of_pass = true;
      return absl::OkStatus();
    }
    const int64_t base = first_row + *filled;
    items.assign(claimed, DecodedItem());
    nanoseconds.assign(claimed, 0);
    auto decode = [&](int64_t item) {
      const auto start = std::chrono::steady_clock::now();
      items[item] = loop.decode(item, base + item);
      nanoseconds[item] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
    };
    if (loop.pool == nullptr || loop.parallelism <= 1) {
      for (int64_t item = 0; item < claimed; ++item) decode(item);
    } else {
      ParallelFor(loop.pool, std::min<int64_t>(loop.parallelism, claimed),
                  claimed, decode);
    }
    // In order: good rows move up over the rows of bad items.
    int64_t good = 0;
    int64_t spent = 0;
    for (int64_t item = 0; item < claimed; ++item) {
      spent += nanoseconds[item];
      const DecodedItem& decoded = items[item];
      if (decoded.status.ok()) {
        if (good != item) batch->CopyRowFrom(*batch, base + item, base + good);
        ids[*filled + good] = decoded.id;
        ++good;
        continue;
      }
      if (decoded.fatal) {
        return absl::Status(
            decoded.status.code(),
            absl::StrCat(loop.where(item), ": ", decoded.status.message()));
      }
      if (loop.fail_on_bad_item) {
        return absl::DataLossError(absl::StrCat(loop.where(item), ": bad ",
                                                loop.item_noun, ": ",
                                                decoded.status.message()));
      }
      recorder->Skipped(loop.where(item), decoded.status.message());
    }
    recorder->Decoded(good, spent);
    *filled += good;
  }
  return absl::OkStatus();
}

}  // namespace iterd::pipeline
