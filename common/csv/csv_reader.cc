#include "common/csv/csv_reader.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "common/csv/input_files.h"
#include "common/io/held_file.h"
#include "common/status/exception_status.h"
#include "common/status/input_text.h"
#include "common/status/status_macros.h"

namespace iterd::csv {
namespace {

constexpr absl::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Tell() tells rows from blank lines without parsing: of the lines the parser
// accepted, a blank one holds only spaces, tabs and a final '\r', whereas a
// row holds a number, hence some other byte (whatever the delimiter).
inline bool IsBlankByte(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::vector<uint64_t> BytesBefore(
    const std::vector<std::shared_ptr<const io::MappedFile>>& files) {
  std::vector<uint64_t> bytes_before(files.size() + 1, 0);
  for (size_t i = 0; i < files.size(); ++i) {
    bytes_before[i + 1] = bytes_before[i] + files[i]->size();
  }
  return bytes_before;
}

}  // namespace

// One cut of one file. Shared by the reader's window and the pool task that
// may parse it; whoever moves it out of kQueued parses it, exactly once.
struct CsvReader::Block {
  enum class State { kQueued, kRunning, kDone, kCancelled };

  // Parses the block if nobody has claimed it yet. Never waits: this runs on
  // a pool thread.
  void RunFromPool(const RowFormat& format) {
    {
      absl::MutexLock lock(&mu);
      if (state != State::kQueued)
        return;  // Claimed by the consumer, or cancelled.
      state = State::kRunning;
    }
    Parse(format);
  }

  // Consumer side: returns once `parsed` is complete.
  void Finish(const RowFormat& format) {
    {
      absl::MutexLock lock(&mu);
      if (state != State::kQueued) {
        mu.Await(absl::Condition(
            +[](State* s) { return *s == State::kDone; }, &state));
        return;
      }
      state = State::kRunning;
    }
    Parse(format);
  }

  // Stops a queued block from being parsed; waits for a running one, so that
  // no parse outlives the reader's bounds.
  void Cancel() {
    absl::MutexLock lock(&mu);
    if (state == State::kQueued) {
      state = State::kCancelled;
      return;
    }
    mu.Await(absl::Condition(
        +[](State* s) { return *s != State::kRunning; }, &state));
  }

  size_t file_index = 0;
  absl::string_view text;  // Points into the file's mapping.
  size_t offset = 0;       // Where `text` begins in the file.
  // Written only by the claimant while kRunning; read by the consumer after
  // kDone (the mutex orders the two).
  ParsedBlock parsed;
  // Set (with kDone) when parsing threw; read by the consumer after Finish(),
  // ordered like `parsed`.
  absl::Status failure;

 private:
  // Always ends in kDone, also when parsing throws (std::bad_alloc for the
  // values): an exception on a pool thread would end the daemon, and a block
  // left kRunning would make Finish() and Cancel() wait forever.
  void Parse(const RowFormat& format) {
    absl::Status outcome;
    try {
      ParseBlock(text, format, &parsed);
    } catch (...) {
      outcome = CurrentExceptionStatus("parsing a CSV block");
    }
    absl::MutexLock lock(&mu);
    failure = std::move(outcome);
    state = State::kDone;
  }

  absl::Mutex mu;
  State state ABSL_GUARDED_BY(mu) = State::kQueued;
};

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::Open(
    const std::string& path, const CsvReaderOptions& options,
    ThreadPool* pool) {
  ITERD_RETURN_IF_ERROR(ValidateRowFormat(options.format));
  if (options.max_blocks_in_flight < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_blocks_in_flight must be >= 1, got ",
                     options.max_blocks_in_flight));
  }
  if (options.block_size_bytes < 1) {
    return absl::InvalidArgumentError("block_size_bytes must be >= 1");
  }
  const std::string name = options.name.empty() ? path : options.name;
  ITERD_ASSIGN_OR_RETURN(std::vector<InputFile> inputs,
                         ListInputFiles(path, name, options.resolve_entry));
  auto files = std::make_shared<Files>();
  files->reserve(inputs.size());
  std::vector<std::string> file_names;
  file_names.reserve(inputs.size());
  for (InputFile& input : inputs) {
    // The reader walks each file front to back: ask for aggressive readahead.
    absl::StatusOr<std::shared_ptr<const io::MappedFile>> file =
        options.hold_files
            ? io::MapHeldFile(input.path, ShownName(input.name),
                              io::AccessPattern::kSequential)
            : io::MappedFile::Open(input.path, io::AccessPattern::kSequential);
    if (!file.ok()) {
      // MappedFile names the path it opened, which holds the data root.
      return absl::Status(
          file.status().code(),
          absl::StrReplaceAll(file.status().message(),
                              {{input.path, ShownName(input.name)}}));
    }
    files->push_back(*std::move(file));
    file_names.push_back(std::move(input.name));
  }
  std::unique_ptr<CsvReader> reader(new CsvReader(
      name, options, pool, std::move(files), std::move(file_names)));
  reader->FillWindow();
  return reader;
}

CsvReader::CsvReader(std::string name, const CsvReaderOptions& options,
                     ThreadPool* pool, std::shared_ptr<const Files> files,
                     std::vector<std::string> file_names)
    : name_(std::move(name)),
      options_(options),
      pool_(pool),
      files_(std::move(files)),
      file_names_(std::move(file_names)),
      bytes_before_(BytesBefore(*files_)) {}

CsvReader::~CsvReader() { CancelWindow(); }

absl::Status CsvReader::Next(absl::Span<const uint8_t>* row,
                             bool* end_of_data) {
  *end_of_data = false;
  if (!status_.ok()) return status_;
  const size_t row_bytes = options_.format.row_bytes();
  while (true) {
    if (current_ != nullptr) {
      const ParsedBlock& parsed = current_->parsed;
      if (current_row_ < parsed.num_rows) {
        *row = {parsed.values.get() + current_row_ * row_bytes, row_bytes};
        ++current_row_;
        ++rows_read_;
        return absl::OkStatus();
      }
      if (parsed.has_error) {
        // Blocks count their own lines; the file line is this block's base
        // plus the line within it.
        status_ = RowErrorToStatus(parsed.error, options_.format,
                                   ShownName(file_names_[current_->file_index]),
                                   current_line_base_ + parsed.error_line + 1);
        return status_;
      }
    }
    if (window_.empty()) {
      current_.reset();  // Frees the last block's values: the pass is over.
      last_row_end_ = CsvPosition();
      last_row_end_.file = static_cast<int64_t>(files_->size());
      *end_of_data = true;
      return absl::OkStatus();
    }
    std::shared_ptr<Block> next = std::move(window_.front());
    window_.pop_front();
    RecycleCurrent();  // Before FillWindow, so the next cut reuses it.
    FillWindow();      // Keeps the workers busy while this block finishes.
    next->Finish(options_.format);
    if (!next->failure.ok()) {
      status_ = next->failure;
      return status_;
    }
    // Every row of current_ is handed out: Tell() needs where the last one
    // ends once current_ is gone. Per block, and the scan is short (only the
    // blank lines after that row).
    if (current_ != nullptr && current_row_ > 0) {
      last_row_end_ = PositionAfterLastRow();
    }
    // Blocks count their own lines; a block continues the line count of the
    // previous one in its file.
    current_line_base_ =
        next->file_index == next_line_file_ ? next_line_ : int64_t{0};
    next_line_file_ = next->file_index;
    next_line_ = current_line_base_ + next->parsed.num_lines;
    current_ = std::move(next);
    current_row_ = 0;
    tell_rows_ = 0;
    tell_offset_ = 0;
    tell_line_ = 0;
  }
}

absl::Status CsvReader::Rewind() {
  Restart(CsvPosition());
  return absl::OkStatus();
}

CsvPosition CsvReader::Tell() const {
  CsvPosition position;
  if (current_ == nullptr || current_row_ == 0) {
    position = last_row_end_;
  } else {
    // Walks the lines of current_ up to the end of its last row handed out.
    // Every line before that row is a row or a blank line (the parser stops
    // at the first bad one), so IsBlankByte tells them apart.
    const absl::string_view text = current_->text;
    while (tell_rows_ < current_row_) {
      const size_t newline = text.find('\n', tell_offset_);
      const size_t line_end =
          newline == absl::string_view::npos ? text.size() : newline;
      if (!std::all_of(text.begin() + tell_offset_, text.begin() + line_end,
                       IsBlankByte)) {
        ++tell_rows_;
      }
      tell_offset_ =
          newline == absl::string_view::npos ? text.size() : newline + 1;
      ++tell_line_;
    }
    position = PositionInCurrent(tell_offset_, tell_line_);
  }
  position.rows = rows_read_;
  return position;
}

absl::Status CsvReader::Seek(const CsvPosition& position) {
  ITERD_RETURN_IF_ERROR(CheckPosition(position));
  Restart(position);
  return absl::OkStatus();
}

void CsvReader::Restart(const CsvPosition& position) {
  CancelWindow();
  RecycleCurrent();
  current_.reset();
  current_row_ = 0;
  current_line_base_ = 0;
  cut_file_ = static_cast<size_t>(position.file);
  cut_offset_ = static_cast<size_t>(position.byte_offset);
  next_line_file_ = cut_file_;
  next_line_ = position.line;
  last_row_end_ = position;
  tell_rows_ = 0;
  tell_offset_ = 0;
  tell_line_ = 0;
  rows_read_ = position.rows;
  status_ = absl::OkStatus();
  FillWindow();
}

absl::Status CsvReader::CheckPosition(const CsvPosition& position) const {
  // Every value is the client's: checked before it indexes anything, and
  // bounded so that counting on from it cannot overflow.
  const auto invalid = [this](auto&&... parts) {
    return absl::InvalidArgumentError(
        absl::StrCat(ShownName(name_), ": cannot seek: ", parts...));
  };
  if (position.rows < 0) {
    return invalid("rows is ", position.rows, ", must be >= 0");
  }
  if (position.line < 0) {
    return invalid("line is ", position.line, ", must be >= 0");
  }
  const size_t num_files = files_->size();
  if (position.file < 0 || static_cast<uint64_t>(position.file) > num_files) {
    return invalid("file is ", position.file, ", must be in [0, ", num_files,
                   "] (", num_files, ": the end of the data)");
  }
  const size_t file = static_cast<size_t>(position.file);
  if (file == num_files) {
    if (position.byte_offset != 0) {
      return invalid("byte_offset is ", position.byte_offset,
                     " at the end of the data (file ", num_files,
                     "), must be 0");
    }
  } else {
    const absl::string_view contents = (*files_)[file]->contents();
    if (position.byte_offset > contents.size()) {
      return invalid("byte_offset is ", position.byte_offset,
                     ", past the end of ", ShownName(file_names_[file]), " (",
                     contents.size(), " bytes)");
    }
    // Only a line start is safe: elsewhere the parser would take the tail of
    // a line for a row.
    if (position.byte_offset > 0 &&
        contents[position.byte_offset - 1] != '\n') {
      return invalid("byte_offset ", position.byte_offset, " of ",
                     ShownName(file_names_[file]),
                     " is not at the start of a line");
    }
  }
  if (static_cast<uint64_t>(position.line) > position.byte_offset) {
    return invalid("line is ", position.line, ", more than byte_offset ",
                   position.byte_offset, " allows (every line takes a byte)");
  }
  const uint64_t bytes_before = bytes_before_[file] + position.byte_offset;
  if (static_cast<uint64_t>(position.rows) > bytes_before) {
    return invalid("rows is ", position.rows, ", more than the ", bytes_before,
                   " bytes before the position allow (every row takes one)");
  }
  return absl::OkStatus();
}

CsvPosition CsvReader::PositionInCurrent(size_t offset, int64_t line) const {
  CsvPosition position;
  position.file = static_cast<int64_t>(current_->file_index);
  const size_t file_offset = current_->offset + offset;
  if (file_offset == (*files_)[current_->file_index]->size()) {
    // One name for the end of a file, whether or not it ends with a newline
    // (without one, its size would not be a line start for Seek()).
    ++position.file;
  } else {
    position.byte_offset = file_offset;
    position.line = current_line_base_ + line;
  }
  return position;
}

CsvPosition CsvReader::PositionAfterLastRow() const {
  const absl::string_view text = current_->text;
  // The block holds no bad line, so its last byte that is neither blank nor a
  // newline belongs to its last row; usually it is the block's last but one.
  size_t row_end = text.size();
  while (row_end > 0 &&
         (IsBlankByte(text[row_end - 1]) || text[row_end - 1] == '\n')) {
    --row_end;
  }
  const size_t newline = text.find('\n', row_end);
  const size_t after =
      newline == absl::string_view::npos ? text.size() : newline + 1;
  // The blank lines after that row: one per newline, plus a last one
  // without a newline.
  int64_t lines_after = std::count(text.begin() + after, text.end(), '\n');
  if (after < text.size() && text.back() != '\n') ++lines_after;
  return PositionInCurrent(after, current_->parsed.num_lines - lines_after);
}

void CsvReader::FillWindow() {
  while (window_.size() < static_cast<size_t>(options_.max_blocks_in_flight)) {
    std::shared_ptr<Block> block = CutNextBlock();
    if (block == nullptr) return;
    // The task holds the block and the mappings, never the reader: it may run
    // after the reader is gone (it then finds the block cancelled).
    pool_->Schedule([block, files = files_, format = options_.format] {
      block->RunFromPool(format);
    });
    window_.push_back(std::move(block));
  }
}

std::shared_ptr<CsvReader::Block> CsvReader::CutNextBlock() {
  while (cut_file_ < files_->size()) {
    const absl::string_view contents = (*files_)[cut_file_]->contents();
    size_t begin = cut_offset_;
    if (begin == 0 && absl::StartsWith(contents, kUtf8Bom)) {
      begin = kUtf8Bom.size();
    }
    if (begin >= contents.size()) {  // This file is done (or empty).
      ++cut_file_;
      cut_offset_ = 0;
      continue;
    }
    size_t end = contents.size();
    const size_t target = begin + options_.block_size_bytes;
    if (target < contents.size()) {
      // The block ends with the line that holds byte target - 1.
      const void* newline = std::memchr(contents.data() + target - 1, '\n',
                                        contents.size() - (target - 1));
      if (newline != nullptr) {
        end = static_cast<const char*>(newline) - contents.data() + 1;
      }
    }
    auto block = std::make_shared<Block>();
    if (!spare_buffers_.empty()) {
      block->parsed = std::move(spare_buffers_.back());
      spare_buffers_.pop_back();
    }
    block->file_index = cut_file_;
    block->text = contents.substr(begin, end - begin);
    block->offset = begin;
    cut_offset_ = end;
    return block;
  }
  return nullptr;
}

void CsvReader::RecycleCurrent() {
  // Safe once the block is kDone: its parser never touches it again, even if
  // its pool task has not yet released its reference.
  if (current_ == nullptr || current_->parsed.values == nullptr ||
      spare_buffers_.size() >=
          static_cast<size_t>(options_.max_blocks_in_flight)) {
    return;
  }
  ParsedBlock spare;
  spare.values = std::move(current_->parsed.values);
  spare.values_capacity = current_->parsed.values_capacity;
  current_->parsed.values_capacity = 0;
  spare_buffers_.push_back(std::move(spare));
}

void CsvReader::CancelWindow() {
  for (const std::shared_ptr<Block>& block : window_) block->Cancel();
  window_.clear();
}

}  // namespace iterd::csv
