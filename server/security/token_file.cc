#include "server/security/token_file.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/io/small_file.h"

namespace iterd::security {
namespace {

bool IsNameCharacter(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '@' ||
         c == ':' || c == '-';
}

// Printable ASCII without space: what fits in an HTTP header unquoted.
bool IsTokenCharacter(char c) { return c > ' ' && c < 0x7f; }

absl::Status LineError(absl::string_view file_name, int line_number,
                       absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(file_name, ":", line_number, ": ", what));
}

}  // namespace

absl::StatusOr<std::vector<NamedToken>> ParseTokenFile(
    absl::string_view text, absl::string_view file_name) {
  std::vector<NamedToken> tokens;
  absl::flat_hash_set<std::string> names;
  absl::flat_hash_set<std::string> secrets;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return LineError(
          file_name, line_number,
          absl::StrCat("expected NAME TOKEN, got ", fields.size(), " fields"));
    }
    const absl::string_view name = fields[0];
    const absl::string_view token = fields[1];
    if (name.size() > kMaxTokenNameLength ||
        !std::all_of(name.begin(), name.end(), IsNameCharacter)) {
      return LineError(
          file_name, line_number,
          absl::StrCat("the name must be 1 to ", kMaxTokenNameLength,
                       " of A-Z a-z 0-9 . _ @ : -"));
    }
    if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength) {
      return LineError(
          file_name, line_number,
          absl::StrCat("the token of '", name, "' has ", token.size(),
                       " characters; it needs ", kMinTokenLength, " to ",
                       kMaxTokenLength, " (e.g. openssl rand -hex 32)"));
    }
    if (!std::all_of(token.begin(), token.end(), IsTokenCharacter)) {
      return LineError(file_name, line_number,
                       absl::StrCat("the token of '", name,
                                    "' has a character outside printable "
                                    "ASCII"));
    }
    if (!names.insert(std::string(name)).second) {
      return LineError(file_name, line_number,
                       absl::StrCat("the name '", name, "' is listed twice"));
    }
    if (!secrets.insert(std::string(token)).second) {
      return LineError(file_name, line_number,
                       absl::StrCat("the token of '", name,
                                    "' is also an earlier line's token"));
    }
    tokens.push_back({std::string(name), std::string(token)});
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        file_name, ": no NAME TOKEN line: every call would be refused"));
  }
  return tokens;
}

absl::StatusOr<std::vector<NamedToken>> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> text =
      io::ReadSmallFile(path, kMaxTokenFileBytes);
  if (!text.ok()) return text.status();
  return ParseTokenFile(*text, path);
}

}  // namespace iterd::security
