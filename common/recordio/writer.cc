#include "common/recordio/writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/io/coding.h"
#include "common/recordio/recordio_format.h"

namespace iterd::recordio {
namespace {

absl::Status ErrnoError(int error_number, absl::string_view action,
                        absl::string_view path) {
  return absl::ErrnoToStatus(error_number,
                             absl::StrCat("cannot ", action, " ", path));
}

absl::StatusOr<int> OpenForWriting(const std::string& path) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, "create", path);
  return fd;
}

// write(2) until every byte is out: it may write less than asked.
absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

absl::Status CloseFd(int* fd, const std::string& path) {
  if (*fd < 0) return absl::OkStatus();
  const int result = ::close(*fd);
  *fd = -1;
  if (result != 0) return ErrnoError(errno, "close", path);
  return absl::OkStatus();
}

void AppendPart(CFlag cflag, absl::string_view data, std::string* out) {
  uint8_t header[kPartHeaderBytes];
  io::EncodeFixed32(header, kMagic);
  io::EncodeFixed32(header + 4,
                    EncodeLrec(cflag, static_cast<uint32_t>(data.size())));
  out->append(reinterpret_cast<const char*>(header), sizeof(header));
  out->append(data.data(), data.size());
  out->append(PaddedLength(data.size()) - data.size(), '\0');
}

}  // namespace

absl::Status EncodeRecord(absl::string_view record, std::string* out,
                          uint64_t* magic_escapes) {
  if (record.size() > kMaxRecordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("RecordIO record of ", record.size(),
                     " bytes is too large: the limit is ", kMaxRecordBytes,
                     " bytes (2^29 - 1)"));
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(record.data());
  // Only words wholly inside the payload at 4-aligned offsets are escaped:
  // parts start aligned, so only those could be mistaken for a header.
  const size_t aligned_end = record.size() & ~size_t{3};
  size_t start = 0;
  uint64_t escapes = 0;
  for (size_t i = 0; i < aligned_end; i += kAlignment) {
    if (io::DecodeFixed32(bytes + i) != kMagic) continue;
    AppendPart(escapes == 0 ? CFlag::kStart : CFlag::kMiddle,
               record.substr(start, i - start), out);
    start = i + kAlignment;  // The reader puts the dropped magic back.
    ++escapes;
  }
  AppendPart(escapes == 0 ? CFlag::kFull : CFlag::kEnd, record.substr(start),
             out);
  if (magic_escapes != nullptr) *magic_escapes += escapes;
  return absl::OkStatus();
}

RecordWriter::RecordWriter(std::string path, int fd)
    : path_(std::move(path)), fd_(fd) {}

RecordWriter::~RecordWriter() { Close().IgnoreError(); }

absl::StatusOr<std::unique_ptr<RecordWriter>> RecordWriter::Create(
    const std::string& path) {
  absl::StatusOr<int> fd = OpenForWriting(path);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<RecordWriter>(new RecordWriter(path, *fd));
}

absl::Status RecordWriter::Write(absl::string_view record) {
  if (!status_.ok()) return status_;
  if (fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("RecordWriter for ", path_, " is closed"));
  }
  const size_t before = buffer_.size();
  absl::Status encoded = EncodeRecord(record, &buffer_, &magic_escapes_);
  if (!encoded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": ", encoded.message()));
  }
  offset_ += buffer_.size() - before;
  if (buffer_.size() >= kFlushThreshold) return Flush();
  return absl::OkStatus();
}

absl::Status RecordWriter::Flush() {
  if (!status_.ok()) return status_;
  status_ = WriteAll(fd_, buffer_, path_);
  buffer_.clear();
  // A buffer grown by one huge record is not kept for the small ones after.
  if (buffer_.capacity() > 4 * kFlushThreshold) buffer_.shrink_to_fit();
  return status_;
}

absl::Status RecordWriter::Close() {
  if (fd_ < 0) return status_;
  absl::Status flushed = Flush();
  absl::Status closed = CloseFd(&fd_, path_);
  if (status_.ok()) status_ = flushed.ok() ? closed : flushed;
  return status_;
}

IndexedRecordWriter::IndexedRecordWriter(std::unique_ptr<RecordWriter> records,
                                         std::string idx_path, int idx_fd)
    : records_(std::move(records)),
      idx_path_(std::move(idx_path)),
      idx_fd_(idx_fd) {}

IndexedRecordWriter::~IndexedRecordWriter() { Close().IgnoreError(); }

absl::StatusOr<std::unique_ptr<IndexedRecordWriter>>
IndexedRecordWriter::Create(const std::string& rec_path,
                            const std::string& idx_path) {
  absl::StatusOr<std::unique_ptr<RecordWriter>> records =
      RecordWriter::Create(rec_path);
  if (!records.ok()) return records.status();
  absl::StatusOr<int> idx_fd = OpenForWriting(idx_path);
  if (!idx_fd.ok()) return idx_fd.status();
  return std::unique_ptr<IndexedRecordWriter>(
      new IndexedRecordWriter(*std::move(records), idx_path, *idx_fd));
}

absl::Status IndexedRecordWriter::Write(absl::string_view key,
                                        absl::string_view record) {
  if (!status_.ok()) return status_;
  if (idx_fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("IndexedRecordWriter for ", idx_path_, " is closed"));
  }
  if (key.find_first_of("\t\n\r") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(idx_path_, ": key \"", absl::CEscape(key),
                     "\" holds a tab or line break"));
  }
  const uint64_t offset = records_->Tell();
  absl::Status written = records_->Write(record);
  if (!written.ok()) {
    // An oversized record writes nothing, so the files still agree.
    if (!absl::IsInvalidArgument(written)) status_ = written;
    return written;
  }
  absl::StrAppend(&idx_buffer_, key, "\t", offset, "\n");
  if (idx_buffer_.size() >= (64 << 10)) {
    status_ = WriteAll(idx_fd_, idx_buffer_, idx_path_);
    idx_buffer_.clear();
  }
  return status_;
}

absl::Status IndexedRecordWriter::Close() {
  if (idx_fd_ < 0) return status_;
  absl::Status records_closed = records_->Close();
  absl::Status idx_written = status_.ok()
                                 ? WriteAll(idx_fd_, idx_buffer_, idx_path_)
                                 : absl::OkStatus();
  idx_buffer_.clear();
  absl::Status idx_closed = CloseFd(&idx_fd_, idx_path_);
  for (const absl::Status* status :
       {&records_closed, &idx_written, &idx_closed}) {
    if (status_.ok()) status_ = *status;
  }
  return status_;
}

}  // namespace iterd::recordio
