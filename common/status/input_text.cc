#include "common/status/input_text.h"

#include "absl/strings/str_cat.h"

namespace iterd {

namespace {

// Appends `text` with control bytes written as \xNN.
void AppendEscaped(absl::string_view text, std::string* out) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      constexpr char kHex[] = "0123456789ABCDEF";
      out->append({'\\', 'x', kHex[byte >> 4], kHex[byte & 0xF]});
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace

std::string QuoteInput(absl::string_view text) {
  const bool cut = text.size() > kMaxQuotedBytes;
  if (cut) text = text.substr(0, kMaxQuotedBytes);
  std::string quoted = "'";
  AppendEscaped(text, &quoted);
  quoted.push_back('\'');
  if (cut) quoted.append("...");
  return quoted;
}

std::string EscapedInput(absl::string_view text) {
  std::string escaped;
  AppendEscaped(text, &escaped);
  return escaped;
}

std::string ShownName(absl::string_view name) {
  std::string shown;
  if (name.size() > kMaxShownNameBytes) {
    shown = "...";
    name = name.substr(name.size() - kMaxShownNameBytes);
  }
  AppendEscaped(name, &shown);
  return shown;
}

std::string BoundedMessage(absl::string_view message) {
  // Escaped first, so that the cut bounds what is sent (an escape takes 4
  // bytes); at most 4 * kMaxMessageBytes bytes are looked at.
  std::string bounded;
  AppendEscaped(message.substr(0, kMaxMessageBytes + 1), &bounded);
  if (bounded.size() > kMaxMessageBytes) {
    bounded.resize(kMaxMessageBytes);
    bounded.append("...");
  }
  return bounded;
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
