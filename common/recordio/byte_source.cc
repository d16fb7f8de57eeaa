#include "common/recordio/byte_source.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace iterd::recordio {
namespace {

absl::Status OutOfBounds(const std::string& name, uint64_t offset,
                         size_t length, uint64_t size) {
  // A reader bug, not damage in the file: the reader checks every length
  // against the bytes left before it reads.
  return absl::InternalError(absl::StrCat(name, ": read of ", length,
                                          " bytes at offset ", offset,
                                          " past the end (", size, " bytes)"));
}

class MappedByteSource final : public ByteSource {
 public:
  explicit MappedByteSource(std::shared_ptr<const io::MappedFile> file)
      : file_(std::move(file)) {}

  const std::string& name() const override { return file_->path(); }
  uint64_t size() const override { return file_->size(); }
  absl::Status Read(uint64_t offset, size_t length, std::string* /*scratch*/,
                    absl::string_view* result) const override {
    if (offset > size() || length > size() - offset) {
      return OutOfBounds(name(), offset, length, size());
    }
    *result = file_->contents().substr(offset, length);
    return absl::OkStatus();
  }

 private:
  const std::shared_ptr<const io::MappedFile> file_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const ByteSource>> OpenMappedByteSource(
    const std::string& path, io::AccessPattern access_pattern) {
  absl::StatusOr<std::shared_ptr<const io::MappedFile>> file =
      io::MappedFile::Open(path, access_pattern);
  if (!file.ok()) return file.status();
  return std::make_shared<const MappedByteSource>(*std::move(file));
}

absl::Status StringByteSource::Read(uint64_t offset, size_t length,
                                    std::string* /*scratch*/,
                                    absl::string_view* result) const {
  if (offset > size() || length > size() - offset) {
    return OutOfBounds(name_, offset, length, size());
  }
  if (length > 0 && offset + length > fail_reads_from_) {
    return absl::UnavailableError(absl::StrCat(
        name_, ": injected read error at offset ", fail_reads_from_));
  }
  *result = absl::string_view(contents_).substr(offset, length);
  return absl::OkStatus();
}

}  // namespace iterd::recordio
