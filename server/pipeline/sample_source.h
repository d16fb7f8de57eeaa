// File: server/pipeline/sample_source.h
//
// SampleSource: the first stage of every pipeline. It delivers the samples of
// one pass over its data, in order, writing each straight into its row of a
// Batch (no intermediate copy). The Batcher (batcher.h) pulls samples from it
// and applies MXNet's last-batch policies.
//
// Passes and epochs: StartEpoch(e) begins epoch e (a new shuffle order, say) at
// its first sample. Rewind() goes back to the first sample of the *same* order:
// the batcher uses it to complete a last batch with samples from the start of
// the data (MXNet's pad / round_batch).
//
// Positions: everything a source delivers is a pure function of its config and
// its SourcePosition (common/tensor/stream_position.h): the order of epoch e
// depends on (seed, e) only, and every random draw of a sample on (seed, e,
// pass, position). A bad record that is skipped still consumes its entry of
// the order, so positions stay positions. Tell() reports the position and
// Seek() goes to one without reading anything before it: that is what makes an
// iterator resumable.
//
// Thread-compatibility: one thread at a time (the Batcher calls it from its
// producer).

#ifndef ITERD_SERVER_PIPELINE_SAMPLE_SOURCE_H_
#define ITERD_SERVER_PIPELINE_SAMPLE_SOURCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/tensor/batch.h"
#include "common/tensor/stream_position.h"

namespace iterd::pipeline {

// Counters a source keeps for GetIteratorStats.
struct SourceStats {
  int64_t records_decoded = 0;
  int64_t records_skipped = 0;
  // Time spent decoding and augmenting records, summed over decoder threads.
  int64_t decode_nanoseconds = 0;
  std::vector<std::string>
      skipped_examples;  // "file:offset: reason", the first few.
};

// InvalidArgument "source position: FIELD ..." unless epoch, pass and
// position are non-negative, position is at most `entries` (the order's
// length; -1 when unknown) and the cursor has `cursor_size` values. The
// common part of every source's Seek().
absl::Status CheckSourcePosition(const SourcePosition& position,
                                 int64_t entries, size_t cursor_size);

class SampleSource {
 public:
  virtual ~SampleSource() = default;

  // Shapes of one sample of each data and each label tensor (without the batch
  // axis), and their output dtypes. Fixed for the source's life.
  virtual const std::vector<TensorSpec>& sample_data_specs() const = 0;
  virtual const std::vector<TensorSpec>& sample_label_specs() const = 0;

  // Number of samples in a pass, or -1 if unknown until the pass ends (streamed
  // CSV).
  virtual int64_t num_samples() const = 0;

  // Whether samples carry ids worth sending as DataBatch.index (CSV row
  // numbers). NDArrayIter reports index None, as MXNet does.
  virtual bool has_sample_ids() const = 0;

  // Writes the next sample of this pass into row `row` of every tensor of
  // `batch`, and its id (row number, original position) into *sample_id. At the
  // end of the pass sets *end_of_pass and writes nothing. Errors name the file
  // and line/record of the bad sample.
  virtual absl::Status ReadSample(Batch* batch, int64_t row,
                                  uint64_t* sample_id, bool* end_of_pass) = 0;

  // Fills rows [first_row, first_row + count) with the next samples of this
  // pass, in order, and ids[k] with the id of row first_row + k. *filled = rows
  // written: fewer than `count` only at the end of the pass (then *end_of_pass
  // is set). The default calls ReadSample() row by row; sources whose samples
  // are expensive (image decoding) override it to fill rows in parallel.
  virtual absl::Status ReadSamples(Batch* batch, int64_t first_row,
                                   int64_t count, uint64_t* ids,
                                   int64_t* filled, bool* end_of_pass);

  // Counters for GetIteratorStats. Thread-safe: called while another thread
  // reads samples.
  virtual SourceStats stats() const { return {}; }

  // Back to the first sample of the current order, one pass further.
  virtual absl::Status Rewind() = 0;

  // Begins epoch `epoch` (0-based) at its first sample: reshuffles if the
  // source shuffles. Sets the pass to 0.
  virtual absl::Status StartEpoch(int64_t epoch) = 0;

  // Where the next sample comes from (after the last one read).
  virtual SourcePosition Tell() const = 0;

  // Goes to `position` as Tell() reported it, in O(1) of the position: no
  // sample before it is read or decoded. Positions come from clients:
  // InvalidArgument naming the field for one this source cannot have (past
  // the end of the order, a cursor it did not write).
  virtual absl::Status Seek(const SourcePosition& position) = 0;
};

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_SAMPLE_SOURCE_H_
