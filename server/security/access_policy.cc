#include "server/security/access_policy.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/input_text.h"

namespace iterd::security {
namespace {

constexpr absl::string_view kEveryone = "*";
constexpr size_t kMaxIdentityBytes = 256;

bool Lists(const google::protobuf::RepeatedPtrField<std::string>& values,
           absl::string_view value) {
  return std::any_of(values.begin(), values.end(),
                     [value](const std::string& listed) {
                       return listed == kEveryone || listed == value;
                     });
}

}  // namespace

bool CallIdentity::Has(absl::string_view identity) const {
  if (identity == kEveryone) return true;
  if (!token_name.empty() && token_name == identity) return true;
  return std::find(certificate_names.begin(), certificate_names.end(),
                   identity) != certificate_names.end();
}

std::string CallIdentity::Describe() const {
  if (!token_name.empty()) return QuoteInput(token_name);
  if (!certificate_names.empty()) {
    return absl::StrCat("certificate ", QuoteInput(certificate_names.front()));
  }
  return "an anonymous caller";
}

AccessPolicy::AccessPolicy(const v1::ServerConfig& config)
    : rules_(config.access().begin(), config.access().end()) {}

absl::Status AccessPolicy::Validate(const v1::ServerConfig& config) {
  absl::flat_hash_set<std::string> pipelines;
  for (const v1::NamedPipeline& named : config.pipelines()) {
    pipelines.insert(named.name());
  }
  for (int i = 0; i < config.access_size(); ++i) {
    const v1::AccessRule& rule = config.access(i);
    const std::string where = absl::StrCat("access[", i, "]");
    if (rule.identities().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where,
          ".identities: name at least one token name or certificate "
          "name (\"*\" for every authenticated caller)"));
    }
    for (const std::string& identity : rule.identities()) {
      if (identity.empty() || identity.size() > kMaxIdentityBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".identities: each is 1 to ", kMaxIdentityBytes,
                         " bytes, got ", identity.size()));
      }
    }
    for (const std::string& pipeline : rule.pipelines()) {
      if (pipeline != kEveryone && !pipelines.contains(pipeline)) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ".pipelines: no pipeline named ", QuoteInput(pipeline),
            " in this config (\"*\" means all of them)"));
      }
    }
  }
  return absl::OkStatus();
}

const v1::AccessRule* AccessPolicy::RuleFor(const CallIdentity& caller) const {
  for (const v1::AccessRule& rule : rules_) {
    for (const std::string& identity : rule.identities()) {
      if (caller.Has(identity)) return &rule;
    }
  }
  return nullptr;
}

absl::Status AccessPolicy::CheckKnown(const CallIdentity& caller) const {
  if (rules_.empty() || RuleFor(caller) != nullptr) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      caller.Describe(), " is not named by any access rule of this daemon"));
}

bool AccessPolicy::MayOpenNamed(const CallIdentity& caller,
                                absl::string_view pipeline) const {
  if (rules_.empty()) return true;
  const v1::AccessRule* rule = RuleFor(caller);
  return rule != nullptr && Lists(rule->pipelines(), pipeline);
}

absl::Status AccessPolicy::CheckOpenNamed(const CallIdentity& caller,
                                          absl::string_view pipeline) const {
  if (MayOpenNamed(caller, pipeline)) return absl::OkStatus();
  const v1::AccessRule* rule = RuleFor(caller);
  const std::string allowed = rule == nullptr || rule->pipelines().empty()
                                  ? "none"
                                  : absl::StrJoin(rule->pipelines(), ", ");
  return absl::PermissionDeniedError(absl::StrCat(
      caller.Describe(), " may not open pipeline ", QuoteInput(pipeline),
      " (its access rule allows: ", allowed, ")"));
}

absl::Status AccessPolicy::CheckInlineFiles(const CallIdentity& caller) const {
  if (rules_.empty()) return absl::OkStatus();
  const v1::AccessRule* rule = RuleFor(caller);
  if (rule != nullptr && rule->inline_configs()) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      caller.Describe(),
      " may not open inline configs that read files (its access rule has no "
      "inline_configs: true); open one of the daemon's named pipelines"));
}

}  // namespace iterd::security
