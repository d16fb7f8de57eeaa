// File: server/security/access_policy.h
//
// Who may open what: the ServerConfig's `access` rules (server_config.proto,
// AccessRule) applied to a call's identity. Without rules every
// authenticated caller may do everything; with rules the first rule naming
// one of the caller's identities decides, and a caller no rule names may do
// nothing.
//
// Thread-safety: immutable after construction.

#ifndef ITERD_SERVER_SECURITY_ACCESS_POLICY_H_
#define ITERD_SERVER_SECURITY_ACCESS_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "iterd/v1/server_config.pb.h"

namespace iterd::security {

// Who a call comes from, as far as the daemon could verify it.
struct CallIdentity {
  // The NAME of the call's bearer token; empty when the daemon has no token
  // file.
  std::string token_name;
  // Under mutual TLS, the verified client certificate's common name and
  // subject-alternative-name values.
  std::vector<std::string> certificate_names;

  // Whether `identity` is one of the names above ("*" names everyone).
  bool Has(absl::string_view identity) const;
  // For messages and logs: "'trainer-a'", "certificate 'trainer-a'", or "an
  // anonymous caller".
  std::string Describe() const;
};

class AccessPolicy final {
 public:
  // No rules: everyone may do everything.
  AccessPolicy() = default;
  explicit AccessPolicy(const v1::ServerConfig& config);

  // Static checks at start-up: every rule names an identity, and every
  // pipeline it lists is "*" or one of the config's pipelines.
  static absl::Status Validate(const v1::ServerConfig& config);

  bool has_rules() const { return !rules_.empty(); }

  // PermissionDenied when rules exist and none names `caller`.
  absl::Status CheckKnown(const CallIdentity& caller) const;
  // PermissionDenied, naming the caller and the pipeline, unless `caller` may
  // open the named pipeline `pipeline`.
  absl::Status CheckOpenNamed(const CallIdentity& caller,
                              absl::string_view pipeline) const;
  bool MayOpenNamed(const CallIdentity& caller,
                    absl::string_view pipeline) const;
  // PermissionDenied unless `caller` may open inline configs that read files.
  absl::Status CheckInlineFiles(const CallIdentity& caller) const;

 private:
  // The first rule naming `caller`; nullptr when none does.
  const v1::AccessRule* RuleFor(const CallIdentity& caller) const;

  std::vector<v1::AccessRule> rules_;
};

}  // namespace iterd::security

#endif  // ITERD_SERVER_SECURITY_ACCESS_POLICY_H_
