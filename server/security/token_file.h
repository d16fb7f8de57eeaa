// File: server/security/token_file.h
//
// The bearer-token file (--auth_token_file): one `NAME TOKEN` per line, `#`
// comments and blank lines allowed. NAME is who the token stands for (what
// access rules and logs call the caller); TOKEN is the secret. Parsing never
// puts a token, or any text of a line that may hold one, into an error: a
// message names the file and line number only.

#ifndef ITERD_SERVER_SECURITY_TOKEN_FILE_H_
#define ITERD_SERVER_SECURITY_TOKEN_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iterd::security {

// Shortest token accepted: 32 characters (e.g. `openssl rand -hex 16`), so
// that guessing one is hopeless.
inline constexpr size_t kMinTokenLength = 32;
inline constexpr size_t kMaxTokenLength = 4096;
inline constexpr size_t kMaxTokenNameLength = 128;
// The file is read whole; a larger one is refused before it is read.
inline constexpr size_t kMaxTokenFileBytes = 1 << 20;

struct NamedToken {
  std::string name;
  std::string token;
};

// The tokens of `text`, the content of `file_name` (named in errors).
// InvalidArgument "FILE:LINE: ..." for a line that is not NAME TOKEN, a name
// outside [A-Za-z0-9._@:-]{1,128}, a token shorter than 32 or longer than
// 4096 characters or with characters outside printable ASCII, a name or token
// listed twice; InvalidArgument when the file lists no token.
absl::StatusOr<std::vector<NamedToken>> ParseTokenFile(
    absl::string_view text, absl::string_view file_name);

// Reads and parses `path`; errors name the file (NotFound, PermissionDenied,
// FailedPrecondition when it is larger than kMaxTokenFileBytes).
absl::StatusOr<std::vector<NamedToken>> ReadTokenFile(const std::string& path);

}  // namespace iterd::security

#endif  // ITERD_SERVER_SECURITY_TOKEN_FILE_H_
