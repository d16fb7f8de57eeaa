#include "common/recordio/reader.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/io/coding.h"
#include "common/recordio/recordio_format.h"

namespace iterd::recordio {
namespace {

const uint8_t* Bytes(absl::string_view view) {
  return reinterpret_cast<const uint8_t*>(view.data());
}

// The magic as the bytes the writer dropped, for reassembly.
constexpr char kMagicBytes[4] = {'\x0a', '\x23', '\xd7', '\xce'};

constexpr uint64_t RoundUpToAlignment(uint64_t offset) {
  return (offset + kAlignment - 1) & ~uint64_t{kAlignment - 1};
}

// Head searches read this much at a time: large enough that a resync over a
// big damaged record costs few Read() calls, small enough for any scratch.
constexpr uint64_t kScanChunkBytes = 64 << 10;

}  // namespace

absl::StatusOr<uint64_t> FindRecordHead(const ByteSource& source, uint64_t from,
                                        uint64_t limit) {
  const uint64_t size = source.size();
  limit = std::min(limit, size);
  std::string scratch;
  uint64_t chunk_begin = RoundUpToAlignment(from);
  while (chunk_begin < limit && size - chunk_begin >= kPartHeaderBytes) {
    // Each chunk reads one header's worth past its scan range so that the
    // lrec word after a magic at the chunk's end can be checked.
    const uint64_t chunk_end =
        std::min(size, chunk_begin + kScanChunkBytes + kPartHeaderBytes);
    absl::string_view chunk;
    absl::Status read =
        source.Read(chunk_begin, chunk_end - chunk_begin, &scratch, &chunk);
    if (!read.ok()) return read;
    // A candidate needs its whole header inside the chunk: offset + 8 <=
    // chunk_end. (chunk_end - 8 + 4 would be the same bound only when the
    // chunk ends 4-aligned; a file whose size is not a multiple of 4 ends
    // unaligned, and its last candidate's lrec would be read past the end.)
    const uint64_t scan_end = std::min({limit, chunk_begin + kScanChunkBytes,
                                        chunk_end - kPartHeaderBytes + 1});
    for (uint64_t offset = chunk_begin; offset < scan_end;
         offset += kAlignment) {
      const uint8_t* word = Bytes(chunk) + (offset - chunk_begin);
      if (io::DecodeFixed32(word) != kMagic) continue;
      const uint32_t cflag = DecodeCFlag(io::DecodeFixed32(word + 4));
      if (cflag == static_cast<uint32_t>(CFlag::kFull) ||
          cflag == static_cast<uint32_t>(CFlag::kStart)) {
        return offset;
      }
    }
    chunk_begin += kScanChunkBytes;
  }
  return limit;
}

absl::StatusOr<std::unique_ptr<RecordReader>> RecordReader::Open(
    const std::string& path, const ReaderOptions& options) {
  absl::StatusOr<std::shared_ptr<const ByteSource>> source =
      OpenMappedByteSource(path, io::AccessPattern::kSequential);
  if (!source.ok()) return source.status();
  return std::make_unique<RecordReader>(*std::move(source), options);
}

RecordReader::RecordReader(std::shared_ptr<const ByteSource> source,
                           const ReaderOptions& options)
    : source_(std::move(source)),
      options_(options),
      end_(std::min(options.end_offset, source_->size())),
      position_(options.begin_offset) {}

void RecordReader::Seek(uint64_t offset) {
  position_ = offset;
  sticky_error_ = absl::OkStatus();
}

absl::Status RecordReader::Next(absl::string_view* record, bool* end_of_data) {
  *record = absl::string_view();
  *end_of_data = false;
  if (!sticky_error_.ok()) return sticky_error_;
  while (true) {
    if (position_ >= end_) {
      *end_of_data = true;
      return absl::OkStatus();
    }
    uint64_t next = 0;
    Damage damage{0, "", 0};
    absl::Status read = ReadRecord(record, &next, &damage);
    if (!read.ok()) return read;  // I/O: not ours to skip.
    if (damage.reason.empty()) {
      record_offset_ = position_;
      position_ = next;
      ++stats_.records;
      return absl::OkStatus();
    }
    absl::Status error = absl::DataLossError(absl::StrCat(
        source_->name(), ": offset ", damage.offset, ": ", damage.reason));
    if (options_.policy == CorruptionPolicy::kStrict) {
      sticky_error_ = error;
      return error;
    }
    absl::StatusOr<uint64_t> head =
        FindRecordHead(*source_, damage.resume_from, end_);
    if (!head.ok()) return head.status();
    const uint64_t skipped = std::max(*head, position_) - position_;
    ++stats_.corruptions;
    stats_.skipped_bytes += skipped;
    if (options_.reporter != nullptr) {
      options_.reporter->Corruption(position_, skipped, error);
    }
    // resume_from > position_ (or the file ends), so this always advances.
    position_ = std::max(*head, position_ + kAlignment);
  }
}

absl::Status RecordReader::ReadRecord(absl::string_view* record, uint64_t* next,
                                      Damage* damage) {
  const uint64_t size = source_->size();
  const uint64_t record_begin = position_;
  bool in_split_record = false;
  uint64_t offset = record_begin;
  while (true) {
    const uint64_t left = offset < size ? size - offset : 0;
    if (left < kPartHeaderBytes) {
      if (in_split_record) {
        *damage = {offset,
                   absl::StrCat("record starting at ", record_begin,
                                " never ends: the file ends after its part "
                                "before this offset"),
                   size};
      } else {
        *damage = {offset,
                   absl::StrCat("trailing ", left,
                                " bytes are too short for a part header",
                                left % kAlignment != 0
                                    ? " (file size is not a multiple of 4)"
                                    : ""),
                   size};
      }
      return absl::OkStatus();
    }
    absl::string_view header;
    absl::Status read =
        source_->Read(offset, kPartHeaderBytes, &scratch_, &header);
    if (!read.ok()) return read;
    const uint32_t magic = io::DecodeFixed32(Bytes(header));
    const uint32_t lrec = io::DecodeFixed32(Bytes(header) + 4);
    const uint32_t cflag = DecodeCFlag(lrec);
    const uint32_t length = DecodeLength(lrec);
    if (magic != kMagic) {
      *damage = {
          offset,
          absl::StrFormat("bad magic 0x%08x (expected 0x%08x)", magic, kMagic),
          offset + kAlignment};
      return absl::OkStatus();
    }
    if (cflag > static_cast<uint32_t>(CFlag::kEnd)) {
      *damage = {offset, absl::StrCat("bad cflag ", cflag),
                 offset + kAlignment};
      return absl::OkStatus();
    }
    const bool starts_record = cflag == static_cast<uint32_t>(CFlag::kFull) ||
                               cflag == static_cast<uint32_t>(CFlag::kStart);
    if (!in_split_record && !starts_record) {
      *damage = {
          offset,
          absl::StrCat("stray ", cflag == 2 ? "middle" : "end", " part (cflag ",
                       cflag, ") where a record should start"),
          offset + kAlignment};
      return absl::OkStatus();
    }
    if (in_split_record && starts_record) {
      // This part may well be a good record: resume right at it.
      *damage = {offset,
                 absl::StrCat("record starting at ", record_begin,
                              " never ends: a new record (cflag ", cflag,
                              ") starts here"),
                 offset};
      return absl::OkStatus();
    }
    const uint64_t padded = PaddedLength(length);
    if (padded > left - kPartHeaderBytes) {
      *damage = {
          offset,
          absl::StrCat("truncated record: the part header declares ", length,
                       " bytes (", padded, " with padding) but only ",
                       left - kPartHeaderBytes,
                       " bytes follow before the end of the file"),
          offset + kAlignment};
      return absl::OkStatus();
    }
    absl::string_view payload;
    read =
        source_->Read(offset + kPartHeaderBytes, length, &scratch_, &payload);
    if (!read.ok()) return read;
    offset += kPartHeaderBytes + padded;
    switch (static_cast<CFlag>(cflag)) {
      case CFlag::kFull:
        *record = payload;  // No copy: a view into the source.
        *next = offset;
        return absl::OkStatus();
      case CFlag::kStart:
        in_split_record = true;
        record_buffer_.assign(payload.data(), payload.size());
        record_buffer_.append(kMagicBytes, sizeof(kMagicBytes));
        break;
      case CFlag::kMiddle:
        record_buffer_.append(payload.data(), payload.size());
        record_buffer_.append(kMagicBytes, sizeof(kMagicBytes));
        break;
      case CFlag::kEnd:
        record_buffer_.append(payload.data(), payload.size());
        *record = record_buffer_;
        *next = offset;
        return absl::OkStatus();
    }
  }
}

}  // namespace iterd::recordio
