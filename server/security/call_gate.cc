#include "server/security/call_gate.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "common/status/status_macros.h"
#include "grpcpp/security/auth_context.h"

namespace iterd::security {
namespace {

// The names gRPC's TLS stack records for a verified peer certificate.
constexpr const char* kCertificateProperties[] = {
    "x509_common_name", "x509_subject_alternative_name"};

// The call's "authorization" value, empty when it has none; several values
// are refused as malformed.
absl::StatusOr<std::string> AuthorizationOf(
    const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  const auto range = metadata.equal_range("authorization");
  std::string value;
  int count = 0;
  for (auto it = range.first; it != range.second; ++it) {
    value.assign(it->second.data(), it->second.size());
    ++count;
  }
  if (count > 1) {
    return absl::UnauthenticatedError(
        "malformed authorization: the call carries several authorization "
        "values; send one 'Bearer TOKEN'");
  }
  return value;
}

}  // namespace

absl::StatusOr<CallIdentity> CallGate::Admit(
    const grpc::ServerContext& context) const {
  CallIdentity identity;
  if (tokens_ != nullptr) {
    ITERD_ASSIGN_OR_RETURN(const std::string authorization,
                           AuthorizationOf(context));
    ITERD_ASSIGN_OR_RETURN(identity.token_name,
                           tokens_->Authenticate(authorization));
  }
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const char* property : kCertificateProperties) {
      for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
        identity.certificate_names.emplace_back(value.data(), value.size());
      }
    }
  }
  ITERD_RETURN_IF_ERROR(policy_.CheckKnown(identity));
  return identity;
}

}  // namespace iterd::security
