// File: server/pipeline/decode_loop.h
//
// What both image sources (ImageRecordSource, ImageIterSource) do to fill the
// rows of a batch, written once:
//
//   FillDecodedRows: claim as many items of the pass as rows are missing,
//   decode them in parallel on the shared pool, each into its own row, then,
//   in order, move the good rows up over the rows of bad items; a fatal error
//   (a configuration error such as a label mismatch) or, under the FAIL
//   policy, any bad item ends the call with a status naming the item; under
//   SKIP a bad item is counted and its entry of the order is used up (so
//   positions stay positions). Repeat until the rows are full or the pass
//   ends. Rows come out in the order of the items whatever the threads do.
//
//   SkipRecorder: the one skip policy: counters for GetIteratorStats, the
//   first few "where: reason" examples, and a log that reports the first
//   skips in full and then one in every thousand (a file of bad records must
//   not flood the daemon's log).
//
// Thread-compatibility: FillDecodedRows runs on the source's producer
// thread; `decode` runs on pool threads, one item each. SkipRecorder is
// thread-safe.

#ifndef ITERD_SERVER_PIPELINE_DECODE_LOOP_H_
#define ITERD_SERVER_PIPELINE_DECODE_LOOP_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/concurrency/thread_pool.h"
#include "common/tensor/batch.h"
#include "server/pipeline/sample_source.h"

namespace iterd::pipeline {

// Examples of skipped items kept for GetIteratorStats.
inline constexpr size_t kMaxSkippedExamples = 8;

class SkipRecorder final {
 public:
  // `iterator` names the source in the log ("ImageRecordIter").
  explicit SkipRecorder(std::string iterator)
      : iterator_(std::move(iterator)) {}

  void Decoded(int64_t items, int64_t nanoseconds) ABSL_LOCKS_EXCLUDED(mu_);
  // A bad item at `where` (file and record or key, and its position) was
  // skipped because of `reason`.
  void Skipped(absl::string_view where, absl::string_view reason)
      ABSL_LOCKS_EXCLUDED(mu_);
  SourceStats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string iterator_;
  mutable absl::Mutex mu_;
  SourceStats stats_ ABSL_GUARDED_BY(mu_);
};

// What decoding one item gave.
struct DecodedItem {
  absl::Status status;
  // An error no policy skips (a configuration error, e.g. a label that does
  // not fit label_width): it ends the call.
  bool fatal = false;
  // DataBatch.index of the row (the record id or the sample's position).
  uint64_t id = 0;
};

struct DecodeLoop {
  // Decodes on the caller plus up to parallelism - 1 pool tasks; a null pool
  // or parallelism 1 decodes on the caller alone.
  ThreadPool* pool = nullptr;
  int parallelism = 1;
  // BadRecordPolicy FAIL: the first bad item is DataLoss.
  bool fail_on_bad_item = false;
  // What an item is called in messages: "record", "image".
  absl::string_view item_noun = "record";

  // Claims up to `count` next items of the pass (numbered 0.. for this
  // round); 0 at the end of the pass. Errors (I/O) end the call.
  std::function<absl::StatusOr<int64_t>(int64_t count)> claim;
  // Decodes claimed item `item` into row `row` of the batch. Must not throw
  // (a decoder's exception is a bad item). Called concurrently for
  // different items.
  std::function<DecodedItem(int64_t item, int64_t row)> decode;
  // Names claimed item `item` in messages: file, record or key, position.
  std::function<std::string(int64_t item)> where;
};

// Fills rows [first_row, first_row + count) of `batch` as described above
// and ids[k] with the id of row first_row + k. *filled = rows written (fewer
// than `count` only at the end of the pass, then *end_of_pass is set).
// Counts decoded and skipped items in `recorder`.
absl::Status FillDecodedRows(const DecodeLoop& loop, SkipRecorder* recorder,
                             Batch* batch, int64_t first_row, int64_t count,
                             uint64_t* ids, int64_t* filled, bool* end_of_pass);

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_DECODE_LOOP_H_
