#include "common/status/input_text.h"

#include "absl/strings/str_cat.h"

namespace iterd {

std::string QuoteInput(absl::string_view text) {
  const bool cut = text.size() > kMaxQuotedBytes;
  if (cut) text = text.substr(0, kMaxQuotedBytes);
  std::string quoted = "'";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      constexpr char kHex[] = "0123456789ABCDEF";
      quoted.append({'\\', 'x', kHex[byte >> 4], kHex[byte & 0xF]});
    } else {
      quoted.push_back(c);
    }
  }
  quoted.push_back('\'');
  if (cut) quoted.append("...");
  return quoted;
}

absl::Status CheckPathText(absl::string_view field, absl::string_view path) {
  if (path.size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": a path of ", path.size(),
                     " bytes is longer than the limit of ", kMaxPathBytes, ": ",
                     QuoteInput(path)));
  }
  const size_t nul = path.find('\0');
  if (nul != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": a path must not contain a NUL byte (byte ", nul,
                     " of ", QuoteInput(path), ")"));
  }
  return absl::OkStatus();
}

}  // namespace iterd
