#include "server/service/array_upload.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status/input_text.h"
#include "common/status/status_macros.h"

namespace iterd::service {
namespace {

// "inline array 'data' (array 0)": the client knows its arrays by name; the
// index is what it put in ArrayChunk.array.
std::string ArrayName(const pipeline::InlineArraySpec& spec, size_t index) {
  return absl::StrCat("inline array ", QuoteInput(spec.name), " (array ", index,
                      ")");
}

// "'data', 'label'": the declared names, for a chunk naming no such array.
std::string DeclaredNames(const std::vector<pipeline::InlineArraySpec>& specs) {
  std::string names;
  for (const pipeline::InlineArraySpec& spec : specs) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", QuoteInput(spec.name));
  }
  return names;
}

}  // namespace

ArrayUpload::~ArrayUpload() {
  if (reserved_ > 0) registry_->ReleaseInlineBytes(reserved_);
}

absl::Status ArrayUpload::Begin(const v1::PipelineConfig& config) {
  ITERD_ASSIGN_OR_RETURN(specs_, pipeline::DeclaredInlineArrays(config));
  uint64_t total = 0;
  for (const pipeline::InlineArraySpec& spec : specs_) {
    // Saturating: a sum of huge declarations must not wrap around.
    total = spec.byte_size > UINT64_MAX - total ? UINT64_MAX
                                                : total + spec.byte_size;
  }
  ITERD_RETURN_IF_ERROR(registry_->CheckInlineDeclaration(total));
  buffers_.resize(specs_.size());
  received_.assign(specs_.size(), 0);
  return absl::OkStatus();
}

absl::Status ArrayUpload::Append(const v1::ArrayChunk& chunk) {
  const size_t array = chunk.array();
  if (array >= specs_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ArrayChunk for inline array ", array, ", but the config declares ",
        specs_.size(), " inline arrays (", DeclaredNames(specs_), ")"));
  }
  while (current_ < array &&
         received_[current_] == specs_[current_].byte_size) {
    ++current_;
  }
  if (array != current_) {
    return absl::InvalidArgumentError(
        absl::StrCat("ArrayChunk for ", ArrayName(specs_[array], array),
                     " before ", ArrayName(specs_[current_], current_),
                     " is complete (arrays are uploaded one after the other)"));
  }
  const uint64_t size = chunk.data().size();
  if (received_[array] + size > specs_[array].byte_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        ArrayName(specs_[array], array), " got more than its declared ",
        specs_[array].byte_size, " bytes"));
  }
  if (size == 0) return absl::OkStatus();
  ITERD_RETURN_IF_ERROR(registry_->ReserveInlineBytes(size));
  reserved_ += size;
  if (buffers_[array] == nullptr) AllocateBuffer(array);
  std::memcpy(buffers_[array].get() + received_[array], chunk.data().data(),
              size);
  received_[array] += size;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Array>> ArrayUpload::Finish() {
  std::vector<Array> arrays;
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (received_[i] != specs_[i].byte_size) {
      return absl::InvalidArgumentError(
          absl::StrCat(ArrayName(specs_[i], i), " got ", received_[i],
                       " of its declared ", specs_[i].byte_size, " bytes"));
    }
    if (buffers_[i] == nullptr) AllocateBuffer(i);  // An empty array.
    const uint8_t* data = buffers_[i].get();
    arrays.push_back(FromBuffer(specs_[i].dtype, specs_[i].shape,
                                std::shared_ptr<const void>(buffers_[i], data),
                                data));
  }
  return arrays;
}

void ArrayUpload::AllocateBuffer(size_t array) {
  // Uninitialised: pages are only touched as chunks are copied in. May throw
  // std::bad_alloc (the service turns it into RESOURCE_EXHAUSTED).
  const uint64_t size = specs_[array].byte_size;
  buffers_[array].reset(new uint8_t[size > 0 ? size : 1],
                        std::default_delete<uint8_t[]>());
}

uint64_t ArrayUpload::ReleaseReservation() {
  const uint64_t reserved = reserved_;
  reserved_ = 0;
  return reserved;
}

}  // namespace iterd::service
