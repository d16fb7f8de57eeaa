// File: common/csv/csv_reader.h
//
// CsvReader: streams the rows of a CSV file (or of every file of a folder, in
// name order, as one stream) as packed typed values, parsing ahead in
// parallel. Each file is memory-mapped and cut at newlines into blocks of about
// `block_size_bytes`; blocks are parsed on a shared ThreadPool, at most
// `max_blocks_in_flight` ahead of the consumer, and handed out strictly in
// order. Memory is bounded whatever the file size: max_blocks_in_flight
// blocks in the window plus the one being consumed (value buffers of consumed
// blocks are recycled, never more than max_blocks_in_flight of them).
//
// Deadlock freedom on a shared pool: pool tasks never wait for anything. The
// consumer (which may itself run on a pool thread, e.g. a Prefetcher task)
// waits only for a block a worker is already parsing; a block still queued is
// claimed and parsed by the consumer itself, so progress never depends on a
// free worker.
//
// Checkpoints: Tell() says where the next row begins (a file, a byte offset
// and a line, all of them cheap to know), and Seek() continues there in O(1),
// without reading the rows before it.
//
// Thread-compatibility: one consumer thread at a time. Ownership: the reader
// owns its mappings jointly with its queued tasks (a task that runs after the
// reader is gone finds its block cancelled and returns); the destructor
// cancels queued blocks and waits for the ones being parsed. The ThreadPool is
// borrowed and must outlive the reader.

#ifndef ITERD_COMMON_CSV_CSV_READER_H_
#define ITERD_COMMON_CSV_CSV_READER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/concurrency/thread_pool.h"
#include "common/csv/input_files.h"
#include "common/csv/row_parser.h"
#include "common/io/mapped_file.h"

namespace iterd::csv {

// Where the next row of a CsvReader begins: enough to come back to it with
// Seek() without reading anything before it. Plain data, so that a client can
// keep it in a checkpoint; Seek() validates what comes back.
struct CsvPosition {
  int64_t rows = 0;          // Rows handed out before this one (rows_read()).
  int64_t file = 0;          // Index of the file (folder mode: name order).
  uint64_t byte_offset = 0;  // Offset of the row's first byte in that file.
  int64_t line = 0;          // 0-based line number of that byte in the file.

  bool operator==(const CsvPosition& other) const {
    return rows == other.rows && file == other.file &&
           byte_offset == other.byte_offset && line == other.line;
  }
  bool operator!=(const CsvPosition& other) const { return !(*this == other); }
};

struct CsvReaderOptions {
  RowFormat format;
  // Blocks parsed or queued ahead of the consumer; >= 1. Each costs about
  // block_size_bytes of parsed values (x2 for int64).
  int max_blocks_in_flight = 4;
  // Target block size; a block ends at the first newline at or past it.
  // 2 MB amortises task overhead yet keeps 4 blocks in flight under 20 MB.
  size_t block_size_bytes = size_t{2} << 20;
  // How messages name the input (a path relative to its data root); files of
  // a folder are `name`/entry. Empty: the path itself.
  std::string name;
  // Every file listed in a folder goes through it (see ListInputFiles); the
  // daemon passes its data-root policy. Null: symlinks are followed anywhere.
  EntryResolver resolve_entry;
  // Open every file through io::HeldFile: its path must be canonical (as the
  // data-root policy returns it, for the input and for listed entries), and a
  // file whose path changed since it was resolved is refused instead of
  // followed.
  bool hold_files = false;
};

class CsvReader final {
 public:
  // Maps `path` (a file or a folder) and starts parsing its first blocks.
  // NotFound naming options.name if it does not exist; InvalidArgument for a
  // bad format or option; the resolver's error for a refused folder entry.
  // Messages name files by options.name, never by `path`. REQUIRES: pool !=
  // nullptr, outliving the reader.
  static absl::StatusOr<std::unique_ptr<CsvReader>> Open(
      const std::string& path, const CsvReaderOptions& options,
      ThreadPool* pool);

  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;
  ~CsvReader();

  // Sets *row to the next row: format.values_per_row values of format.dtype,
  // packed little-endian, valid until the next Next(), Rewind(), Seek() or
  // destruction. At the end of the data sets *end_of_data (and keeps doing
  // so). A bad line is an InvalidArgument naming file, 1-based line and field;
  // it sticks until Rewind() or Seek(). The file is named as in Open().
  absl::Status Next(absl::Span<const uint8_t>* row, bool* end_of_data);

  // Back to the first row: cancels queued blocks, waits for those being parsed
  // (bounded work) and restarts at the first file. Clears a sticky error.
  absl::Status Rewind();

  // Where the row the next Next() returns begins, with rows == rows_read().
  // Positions below are written {file, byte_offset, line}:
  // - after a row, the start of the line that follows it (blank lines after
  //   it are not skipped: Next() skips them after a Seek() there), except that
  //   a row that ends its file is followed by {file + 1, 0, 0}, the start of
  //   the next file (or the end position below);
  // - before any row since Open(), Rewind() or Seek(), where that started:
  //   {0, 0, 0}, or the Seek() position as it was given;
  // - once Next() has reported the end of the data, the end position
  //   {number of files, 0, 0}.
  // So a position depends on the rows handed out, never on how the input was
  // cut into blocks, and Seek(Tell()) on any reader of the same input gives
  // exactly the rows, rows_read() and error lines this reader gives next
  // (after an error, the error again). Cost: no parsing; it finds the end of
  // the last row by scanning the lines handed out since the previous Tell()
  // (memchr), so a Tell() per batch costs one pass over the data in all.
  // Consumer side, like Next(): not to be called concurrently with it.
  CsvPosition Tell() const;

  // Continues at `position` (usually a Tell() of a reader of the same input):
  // cancels queued blocks as Rewind() does, clears a sticky error, and the
  // next Next() returns the row at position.byte_offset of file
  // position.file, with rows_read() counted from position.rows and lines in
  // messages from position.line. Reads nothing before the position: O(1) plus
  // cutting the next blocks. Positions come from clients: InvalidArgument,
  // naming the input and the bad field, unless rows >= 0, line >= 0, file is
  // in [0, number of files] (the number of files only with byte_offset 0: the
  // end of the data), byte_offset <= that file's size and at a line start
  // (0, or just after a newline), line <= byte_offset (every line before it
  // takes a byte) and rows <= the bytes of the data before the position
  // (every row takes one). Within those bounds a wrong rows or line is
  // accepted, since checking it would mean reading what precedes the
  // position: the reader then counts from the values given. A blank or bad
  // line at the position is fine (skipped or reported, as anywhere). On an
  // error the reader is left as it was.
  absl::Status Seek(const CsvPosition& position);

  // Rows handed out since Open() or the last Rewind(), plus the rows of the
  // last Seek() position.
  int64_t rows_read() const { return rows_read_; }
  // options.name (or the path): how messages name the input.
  const std::string& name() const { return name_; }
  const RowFormat& format() const { return options_.format; }

 private:
  struct Block;
  using Files = std::vector<std::shared_ptr<const io::MappedFile>>;

  CsvReader(std::string name, const CsvReaderOptions& options, ThreadPool* pool,
            std::shared_ptr<const Files> files,
            std::vector<std::string> file_names);

  // Cancels the window and restarts reading at `position`, which is valid.
  void Restart(const CsvPosition& position);
  // InvalidArgument unless Seek() can continue at `position`.
  absl::Status CheckPosition(const CsvPosition& position) const;
  // The position of the line start at `offset` of current_'s text, which is
  // line `line` (0-based) of the block; the start of the next file if that is
  // the end of this one. `rows` is left 0.
  CsvPosition PositionInCurrent(size_t offset, int64_t line) const;
  // The position after the last row of current_, which has rows: scans back
  // from the block's end over the blank lines that follow that row.
  CsvPosition PositionAfterLastRow() const;
  // Cuts and schedules blocks until max_blocks_in_flight are in the window or
  // the data is all cut.
  void FillWindow();
  // Returns the next block of the stream, or nullptr at the end of the data.
  std::shared_ptr<Block> CutNextBlock();
  // Makes `block` parsed: waits for the worker parsing it, or parses it here
  // if no worker has started it.
  void FinishBlock(Block* block);
  // Cancels queued blocks and waits for the running ones.
  void CancelWindow();
  // Keeps the values buffer of a consumed block for reuse.
  void RecycleCurrent();

  const std::string name_;
  const CsvReaderOptions options_;
  ThreadPool* const pool_;
  const std::shared_ptr<const Files> files_;
  const std::vector<std::string> file_names_;  // Names in messages, per file.
  // bytes_before_[i]: the total size of files 0..i-1 (number of files + 1
  // entries). Bounds a Seek() row count in O(1).
  const std::vector<uint64_t> bytes_before_;

  // Where the next block will be cut.
  size_t cut_file_ = 0;
  size_t cut_offset_ = 0;
  // Blocks scheduled, oldest first; at most max_blocks_in_flight.
  std::deque<std::shared_ptr<Block>> window_;
  // The block rows are being handed out from (parsed), or nullptr.
  std::shared_ptr<Block> current_;
  int64_t current_row_ = 0;
  // 0-based line number, within its file, of current_'s first line.
  int64_t current_line_base_ = 0;
  // The file line the next block begins at if it is in file next_line_file_
  // (a block that opens a file begins at line 0): the end of the previous
  // block's lines, or the Seek() position's line.
  size_t next_line_file_ = 0;
  int64_t next_line_ = 0;
  // Tell() while no row of current_ has been handed out: the position after
  // the last row of the blocks before it, or where reading started, or the
  // end position. `rows` is unused (Tell() uses rows_read_).
  CsvPosition last_row_end_;
  // Where Tell() last left off in current_: after tell_rows_ of its rows, at
  // block text offset tell_offset_, which is block line tell_line_. Tell()
  // moves it forward only, so that repeated calls scan each line once; it is
  // a cache of consumer-side state, hence mutable in a const Tell().
  mutable int64_t tell_rows_ = 0;
  mutable size_t tell_offset_ = 0;
  mutable int64_t tell_line_ = 0;
  // Value buffers of consumed blocks, handed to the next blocks cut (at most
  // max_blocks_in_flight): steady state allocates nothing per block.
  std::vector<ParsedBlock> spare_buffers_;
  absl::Status status_;  // Sticky error.
  int64_t rows_read_ = 0;
};

}  // namespace iterd::csv

#endif  // ITERD_COMMON_CSV_CSV_READER_H_
