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
  // packed little-endian, valid until the next Next(), Rewind() or
  // destruction. At the end of the data sets *end_of_data (and keeps doing
  // so). A bad line is an InvalidArgument naming file, 1-based line and field;
  // it sticks until Rewind(). The file is named as in Open().
  absl::Status Next(absl::Span<const uint8_t>* row, bool* end_of_data);

  // Back to the first row: cancels queued blocks, waits for those being parsed
  // (bounded work) and restarts at the first file. Clears a sticky error.
  absl::Status Rewind();

  // Rows handed out since Open() or the last Rewind().
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
  // Value buffers of consumed blocks, handed to the next blocks cut (at most
  // max_blocks_in_flight): steady state allocates nothing per block.
  std::vector<ParsedBlock> spare_buffers_;
  absl::Status status_;  // Sticky error.
  int64_t rows_read_ = 0;
};

}  // namespace iterd::csv

#endif  // ITERD_COMMON_CSV_CSV_READER_H_
