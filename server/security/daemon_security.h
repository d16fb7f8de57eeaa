// File: server/security/daemon_security.h
//
// The daemon's security set up from its flags, in one place for main():
// the gRPC port's credentials, the token store, and the rule that a daemon
// reachable from other hosts is secured by default (TLS or tokens, or an
// explicit --insecure).

#ifndef ITERD_SERVER_SECURITY_DAEMON_SECURITY_H_
#define ITERD_SERVER_SECURITY_DAEMON_SECURITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "server/ops/http_server.h"
#include "server/security/server_credentials.h"
#include "server/security/token_store.h"

namespace iterd::security {

struct SecurityFlags {
  std::string listen;  // --listen
  TlsFiles tls;
  std::string token_file;  // --auth_token_file; empty = no tokens
  bool insecure = false;   // --insecure
  // How often the token file is looked at.
  absl::Duration token_reload_interval = absl::Seconds(1);
};

struct DaemonSecurity {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  std::unique_ptr<TokenStore> tokens;  // Null without --auth_token_file.
  // One line for the log: "TLS, mutual TLS, tokens" or "plaintext, no
  // tokens".
  std::string summary;
};

// FailedPrecondition when `flags.listen` is reachable from other hosts and
// the daemon would serve it in plaintext without tokens, unless --insecure;
// the message is the one line the daemon prints. InvalidArgument (naming
// the flag) for unusable TLS or token files.
absl::StatusOr<DaemonSecurity> SetUpSecurity(const SecurityFlags& flags);

// `handler`, answering 401 unless the request carries "Authorization: Bearer
// TOKEN" with a token of `tokens` (which must outlive the handler); `handler`
// itself when `tokens` is null.
ops::HttpHandler RequireBearerToken(const TokenStore* tokens,
                                    ops::HttpHandler handler);

}  // namespace iterd::security

#endif  // ITERD_SERVER_SECURITY_DAEMON_SECURITY_H_
