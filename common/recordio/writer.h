// File: common/recordio/writer.h
//
// RecordWriter writes a .rec file byte for byte as dmlc's RecordIOWriter
// (MXNet's MXRecordIO in 'w' mode); IndexedRecordWriter adds the .idx text
// file of MXIndexedRecordIO.write_idx. The framing is in recordio_format.h.
//
// Thread-safety: neither writer is safe for concurrent use; one thread owns
// each. EncodeRecord() is a pure function.
// Ownership: a writer owns its file descriptors and closes them in Close() or
// the destructor (which ignores errors: call Close() to see them).

#ifndef ITERD_COMMON_RECORDIO_WRITER_H_
#define ITERD_COMMON_RECORDIO_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iterd::recordio {

// Appends the on-disk form of one record to *out: the magic escaped at every
// 4-aligned payload offset (continuation parts with cflag 1/2/3), each part
// zero-padded to 4 bytes. Adds the number of escaped magics to *magic_escapes
// when it is not null. InvalidArgument naming the size when record.size() >=
// 2^29: the check comes before splitting, as dmlc's, so no record that a
// reader could not return in one piece is ever written. *out is unchanged on
// error.
absl::Status EncodeRecord(absl::string_view record, std::string* out,
                          uint64_t* magic_escapes = nullptr);

class RecordWriter final {
 public:
  // Creates (or truncates) `path`. Errors name the path.
  static absl::StatusOr<std::unique_ptr<RecordWriter>> Create(
      const std::string& path);

  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;
  ~RecordWriter();

  // Appends one record. InvalidArgument (naming the size) if it is >= 2^29
  // bytes, and nothing is written then. Writes are buffered; a write error
  // sticks and is returned by every later call.
  absl::Status Write(absl::string_view record);
  // The offset where the next record will start (dmlc's Tell(), the .idx
  // value of that record).
  uint64_t Tell() const { return offset_; }
  // Number of aligned magics escaped so far (dmlc's except_counter).
  uint64_t magic_escapes() const { return magic_escapes_; }
  // Flushes and closes. Idempotent; later Write() calls fail.
  absl::Status Close();

 private:
  RecordWriter(std::string path, int fd);
  absl::Status Flush();

  // Bytes are gathered here and written once the buffer passes
  // kFlushThreshold, so small records cost no system call each.
  static constexpr size_t kFlushThreshold = 1 << 20;

  const std::string path_;
  int fd_;  // -1 once closed.
  std::string buffer_;
  uint64_t offset_ = 0;
  uint64_t magic_escapes_ = 0;
  absl::Status status_;  // The first write error; sticky.
};

// MXIndexedRecordIO in 'w' mode: each Write appends the record to the .rec
// file and the line "<key>\t<offset>\n" to the .idx file, where offset is the
// record's first header (RecordWriter::Tell() before the write).
class IndexedRecordWriter final {
 public:
  // Creates (or truncates) both files. Errors name the path.
  static absl::StatusOr<std::unique_ptr<IndexedRecordWriter>> Create(
      const std::string& rec_path, const std::string& idx_path);

  IndexedRecordWriter(const IndexedRecordWriter&) = delete;
  IndexedRecordWriter& operator=(const IndexedRecordWriter&) = delete;
  ~IndexedRecordWriter();

  // InvalidArgument if `key` holds a tab, LF or CR (the .idx line could not
  // be read back), or as RecordWriter::Write.
  absl::Status Write(absl::string_view key, absl::string_view record);
  uint64_t Tell() const { return records_->Tell(); }
  // Flushes and closes both files. Idempotent.
  absl::Status Close();

 private:
  IndexedRecordWriter(std::unique_ptr<RecordWriter> records,
                      std::string idx_path, int idx_fd);

  std::unique_ptr<RecordWriter> records_;
  const std::string idx_path_;
  int idx_fd_;  // -1 once closed.
  std::string idx_buffer_;
  absl::Status status_;
};

}  // namespace iterd::recordio

#endif  // ITERD_COMMON_RECORDIO_WRITER_H_
