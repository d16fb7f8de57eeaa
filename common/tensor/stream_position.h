// File: common/tensor/stream_position.h
//
// Where a pipeline stands in its batch stream, as positions only (never
// sample bytes): the in-memory form of iterd.v1.IteratorState
// (proto/iterd/v1/iterator_state.proto). A pipeline's batches are a pure
// function of (config, epoch, position), so a pipeline restored to a
// StreamPosition produces exactly the batches that followed it.
//
// Each Batch carries the position right after it (Batch::after), so a client
// can checkpoint at any batch boundary without asking.

#ifndef ITERD_COMMON_TENSOR_STREAM_POSITION_H_
#define ITERD_COMMON_TENSOR_STREAM_POSITION_H_

#include <cstdint>
#include <vector>

namespace iterd {

// Where a source is: the epoch whose sample order it visits, the restarts of
// that order within the epoch (wrap-arounds that complete a last batch), and
// the entries of the order it consumed (samples read plus bad records
// skipped, so a skipped record never shifts later positions).
struct SourcePosition {
  int64_t epoch = 0;
  int64_t pass = 0;
  int64_t position = 0;
  // Sources that find an entry by byte offset rather than by number (CSV):
  // per input, file index, byte offset and line of the next row.
  std::vector<uint64_t> cursor;

  bool operator==(const SourcePosition& other) const {
    return epoch == other.epoch && pass == other.pass &&
           position == other.position && cursor == other.cursor;
  }
};

// Where a batch stream is: see the fields of iterd.v1.IteratorState.
struct StreamPosition {
  int64_t epoch = 0;
  int64_t sequence = 0;
  bool epoch_over = false;
  bool epoch_started = false;
  SourcePosition source;
  bool continue_after_wrap = false;
  int64_t held_rows = 0;
  SourcePosition held_from;

  bool operator==(const StreamPosition& other) const {
    return epoch == other.epoch && sequence == other.sequence &&
           epoch_over == other.epoch_over &&
           epoch_started == other.epoch_started && source == other.source &&
           continue_after_wrap == other.continue_after_wrap &&
           held_rows == other.held_rows && held_from == other.held_from;
  }
};

}  // namespace iterd

#endif  // ITERD_COMMON_TENSOR_STREAM_POSITION_H_
