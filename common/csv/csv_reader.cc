#include "common/csv/csv_reader.h"

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
      file_names_(std::move(file_names)) {}

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
    if (current_ != nullptr && current_->file_index == next->file_index) {
      current_line_base_ += current_->parsed.num_lines;
    } else {
      current_line_base_ = 0;
    }
    current_ = std::move(next);
    current_row_ = 0;
  }
}

absl::Status CsvReader::Rewind() {
  CancelWindow();
  RecycleCurrent();
  current_.reset();
  current_row_ = 0;
  current_line_base_ = 0;
  cut_file_ = 0;
  cut_offset_ = 0;
  rows_read_ = 0;
  status_ = absl::OkStatus();
  FillWindow();
  return absl::OkStatus();
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
