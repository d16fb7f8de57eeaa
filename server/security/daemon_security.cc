#include "server/security/daemon_security.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/net/loopback_address.h"

namespace iterd::security {

absl::StatusOr<DaemonSecurity> SetUpSecurity(const SecurityFlags& flags) {
  absl::Status status = CheckTlsFiles(flags.tls);
  if (!status.ok()) return status;
  const bool tokens_required = !flags.token_file.empty();
  if (!flags.tls.enabled() && !tokens_required && !flags.insecure &&
      !IsLoopbackAddress(flags.listen)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to serve ", flags.listen,
        " in plaintext without tokens: anyone who reaches it could read "
        "every file under the data roots; give --tls_cert_file and "
        "--tls_key_file and/or --auth_token_file, or --insecure to serve it "
        "unprotected anyway"));
  }
  DaemonSecurity security;
  if (tokens_required) {
    absl::StatusOr<std::unique_ptr<TokenStore>> tokens =
        TokenStore::Open(flags.token_file, flags.token_reload_interval);
    if (!tokens.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--auth_token_file: ", tokens.status().message()));
    }
    security.tokens = *std::move(tokens);
  }
  security.credentials = MakeServerCredentials(flags.tls);
  std::vector<std::string> parts;
  if (flags.tls.enabled()) {
    parts.push_back(flags.tls.client_ca_file.empty() ? "TLS" : "mutual TLS");
  } else {
    parts.push_back("plaintext");
  }
  parts.push_back(tokens_required ? "bearer tokens" : "no tokens");
  security.summary = absl::StrJoin(parts, ", ");
  return security;
}

ops::HttpHandler RequireBearerToken(const TokenStore* tokens,
                                    ops::HttpHandler handler) {
  if (tokens == nullptr) return handler;
  return
      [tokens, handler = std::move(handler)](const ops::HttpRequest& request) {
        absl::StatusOr<std::string> name =
            tokens->Authenticate(request.authorization);
        if (name.ok()) return handler(request);
        ops::HttpResponse refused;
        refused.status_code = 401;
        refused.body = absl::StrCat(name.status().message(), "\n");
        return refused;
      };
}

}  // namespace iterd::security
