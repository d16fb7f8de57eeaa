#include "common/recordio/index.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/io/mapped_file.h"

namespace iterd::recordio {

absl::StatusOr<RecordIndex> RecordIndex::Parse(absl::string_view text,
                                               absl::string_view name) {
  RecordIndex index;
  index.name_ = std::string(name);
  // Python reads lines until EOF, so only a final newline ends the file
  // without starting another line.
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty()) return index;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    std::vector<absl::string_view> columns =
        absl::StrSplit(absl::StripAsciiWhitespace(line), '\t');
    if (columns.size() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": line ", line_number,
                       ": expected \"<key>\\t<offset>\", found no tab"));
    }
    uint64_t offset = 0;
    if (!absl::SimpleAtoi(columns[1], &offset)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": line ", line_number, ": offset \"", columns[1],
                       "\" is not a non-negative integer"));
    }
    IndexEntry entry;
    entry.key = std::string(columns[0]);
    entry.offset = offset;
    int64_t integer_key = 0;
    if (absl::SimpleAtoi(columns[0], &integer_key)) {
      entry.integer_key = integer_key;
      index.offset_by_integer_key_[integer_key] = offset;
    }
    index.offset_by_key_[entry.key] = offset;  // The last line wins.
    index.entries_.push_back(std::move(entry));
  }
  return index;
}

absl::StatusOr<RecordIndex> RecordIndex::Load(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const io::MappedFile>> file =
      io::MappedFile::Open(path, io::AccessPattern::kSequential);
  if (!file.ok()) return file.status();
  return Parse((*file)->contents(), path);
}

std::vector<std::string> RecordIndex::keys() const {
  std::vector<std::string> keys;
  keys.reserve(entries_.size());
  for (const IndexEntry& entry : entries_) keys.push_back(entry.key);
  return keys;
}

absl::StatusOr<uint64_t> RecordIndex::Find(absl::string_view key) const {
  auto it = offset_by_key_.find(std::string(key));
  if (it == offset_by_key_.end()) {
    return absl::NotFoundError(
        absl::StrCat(name_, ": no key \"", key, "\" in the index"));
  }
  return it->second;
}

absl::StatusOr<uint64_t> RecordIndex::Find(int64_t key) const {
  auto it = offset_by_integer_key_.find(key);
  if (it == offset_by_integer_key_.end()) {
    return absl::NotFoundError(
        absl::StrCat(name_, ": no key ", key, " in the index"));
  }
  return it->second;
}

std::vector<uint64_t> RecordIndex::SortedOffsets() const {
  std::vector<uint64_t> offsets;
  offsets.reserve(entries_.size());
  for (const IndexEntry& entry : entries_) offsets.push_back(entry.offset);
  std::sort(offsets.begin(), offsets.end());
  return offsets;
}

std::vector<uint64_t> DmlcIndexOffsets(absl::string_view text) {
  std::vector<absl::string_view> tokens =
      absl::StrSplit(text, absl::ByAnyChar(" \t\n\r\v\f"), absl::SkipEmpty());
  std::vector<uint64_t> offsets;
  for (size_t i = 0; i + 1 < tokens.size(); i += 2) {
    int64_t key = 0;
    uint64_t offset = 0;
    if (!absl::SimpleAtoi(tokens[i], &key) ||
        !absl::SimpleAtoi(tokens[i + 1], &offset)) {
      break;
    }
    offsets.push_back(offset);
  }
  std::sort(offsets.begin(), offsets.end());
  return offsets;
}

std::string FormatIndexLine(absl::string_view key, uint64_t offset) {
  return absl::StrCat(key, "\t", offset, "\n");
}

absl::StatusOr<std::unique_ptr<IndexedReader>> IndexedReader::Open(
    const std::string& rec_path, const std::string& idx_path) {
  absl::StatusOr<RecordIndex> index = RecordIndex::Load(idx_path);
  if (!index.ok()) return index.status();
  absl::StatusOr<std::shared_ptr<const ByteSource>> source =
      OpenMappedByteSource(rec_path, io::AccessPattern::kRandom);
  if (!source.ok()) return source.status();
  return std::make_unique<IndexedReader>(*std::move(source), *std::move(index));
}

IndexedReader::IndexedReader(std::shared_ptr<const ByteSource> source,
                             RecordIndex index)
    : index_(std::move(index)), reader_(std::move(source), ReaderOptions{}) {}

absl::Status IndexedReader::Read(absl::string_view key,
                                 absl::string_view* record, bool* end_of_data) {
  absl::StatusOr<uint64_t> offset = index_.Find(key);
  if (!offset.ok()) return offset.status();
  return ReadAt(*offset, record, end_of_data);
}

absl::Status IndexedReader::Read(int64_t key, absl::string_view* record,
                                 bool* end_of_data) {
  absl::StatusOr<uint64_t> offset = index_.Find(key);
  if (!offset.ok()) return offset.status();
  return ReadAt(*offset, record, end_of_data);
}

absl::Status IndexedReader::ReadEntry(size_t entry, absl::string_view* record,
                                      bool* end_of_data) {
  if (entry >= index_.entries().size()) {
    return absl::OutOfRangeError(
        absl::StrCat("index entry ", entry, " of ", index_.entries().size()));
  }
  return ReadAt(index_.entries()[entry].offset, record, end_of_data);
}

absl::Status IndexedReader::ReadAt(uint64_t offset, absl::string_view* record,
                                   bool* end_of_data) {
  reader_.Seek(offset);
  return reader_.Next(record, end_of_data);
}

}  // namespace iterd::recordio
