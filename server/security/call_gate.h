// File: server/security/call_gate.h
//
// CallGate: the one check every DataIterService call passes before the
// service looks at its request. It authenticates the call (the bearer token
// in its metadata, when the daemon has a token file; the client certificate
// gRPC verified, under mutual TLS) and returns who it is, for the access
// rules. Tokens are read from the call's metadata rather than by a gRPC
// AuthMetadataProcessor because gRPC runs those on TLS ports only, and iterd
// accepts tokens on plaintext ports too (an operator's choice, e.g. behind a
// TLS-terminating mesh).
//
// Thread-safety: const methods may run concurrently.

#ifndef ITERD_SERVER_SECURITY_CALL_GATE_H_
#define ITERD_SERVER_SECURITY_CALL_GATE_H_

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "server/security/access_policy.h"
#include "server/security/token_store.h"

namespace iterd::security {

class CallGate final {
 public:
  // Admits every call (no tokens, no rules): a loopback daemon's default.
  CallGate() = default;
  // `tokens` may be null (no token file); when not, it must outlive the gate.
  CallGate(const TokenStore* tokens, AccessPolicy policy)
      : tokens_(tokens), policy_(std::move(policy)) {}

  // The caller's identity. Unauthenticated when tokens are required and the
  // call has none or an unknown one; PermissionDenied when access rules exist
  // and none names the caller.
  absl::StatusOr<CallIdentity> Admit(const grpc::ServerContext& context) const;

  const AccessPolicy& policy() const { return policy_; }
  bool requires_tokens() const { return tokens_ != nullptr; }

 private:
  const TokenStore* tokens_ = nullptr;
  AccessPolicy policy_;
};

}  // namespace iterd::security

#endif  // ITERD_SERVER_SECURITY_CALL_GATE_H_
