#include "client/cpp/channel_security.h"

#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/io/small_file.h"

namespace iterd::client {
namespace {

// PEM bundles are a few KB; a system CA bundle ~200 KB.
constexpr size_t kMaxPemBytes = 4 << 20;
constexpr size_t kMaxTokenFileBytes = 64 << 10;

std::string FromEnvironment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// `value` as PEM text: itself when it is PEM, else the content of the file
// it names.
absl::StatusOr<std::string> PemOf(const char* setting,
                                  const std::string& value) {
  if (value.empty() || absl::StartsWith(value, "-----BEGIN")) return value;
  absl::StatusOr<std::string> text = io::ReadSmallFile(value, kMaxPemBytes);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(setting, ": ", text.status().message()));
  }
  if (!absl::StrContains(*text, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat(setting, ": ", value, " holds no PEM block"));
  }
  return text;
}

// Adds "authorization: Bearer TOKEN" to each call's initial metadata.
class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string* header)
      : header_(header) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *header_});
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class BearerTokenInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenInterceptorFactory(const std::string& token)
      : header_(absl::StrCat("Bearer ", token)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerTokenInterceptor(&header_);
  }

 private:
  // Owned by the factory, which the channel keeps for its lifetime.
  const std::string header_;
};

}  // namespace

absl::StatusOr<ChannelSecurity> ResolveChannelSecurity(
    const ClientSecurity& given) {
  ClientSecurity security = given;
  std::string token_file;
  if (security.use_environment) {
    if (security.root_certificates.empty()) {
      security.root_certificates = FromEnvironment("ITERD_TLS_CA");
    }
    if (security.certificate_chain.empty()) {
      security.certificate_chain = FromEnvironment("ITERD_TLS_CERT");
    }
    if (security.private_key.empty()) {
      security.private_key = FromEnvironment("ITERD_TLS_KEY");
    }
    if (security.token.empty()) {
      security.token = FromEnvironment("ITERD_TOKEN");
      if (security.token.empty())
        token_file = FromEnvironment("ITERD_TOKEN_FILE");
    }
  }
  if (!token_file.empty()) {
    absl::StatusOr<std::string> text =
        io::ReadSmallFile(token_file, kMaxTokenFileBytes);
    if (!text.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ITERD_TOKEN_FILE: ", text.status().message()));
    }
    security.token = std::string(absl::StripAsciiWhitespace(*text));
    if (security.token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ITERD_TOKEN_FILE: ", token_file, " is empty"));
    }
  }
  security.token = std::string(absl::StripAsciiWhitespace(security.token));
  if (security.certificate_chain.empty() != security.private_key.empty()) {
    return absl::InvalidArgumentError(
        "certificate_chain and private_key (ITERD_TLS_CERT, ITERD_TLS_KEY) go "
        "together: give both or neither");
  }

  ChannelSecurity resolved;
  resolved.tls = !security.root_certificates.empty() ||
                 !security.certificate_chain.empty();
  if (resolved.tls) {
    grpc::SslCredentialsOptions ssl;
    absl::StatusOr<std::string> roots =
        PemOf("root_certificates", security.root_certificates);
    if (!roots.ok()) return roots.status();
    absl::StatusOr<std::string> chain =
        PemOf("certificate_chain", security.certificate_chain);
    if (!chain.ok()) return chain.status();
    absl::StatusOr<std::string> key =
        PemOf("private_key", security.private_key);
    if (!key.ok()) return key.status();
    ssl.pem_root_certs = *std::move(roots);
    ssl.pem_cert_chain = *std::move(chain);
    ssl.pem_private_key = *std::move(key);
    resolved.credentials = grpc::SslCredentials(ssl);
  } else {
    resolved.credentials = grpc::InsecureChannelCredentials();
  }
  if (!security.token.empty()) {
    resolved.has_token = true;
    resolved.interceptors.push_back(
        std::make_unique<BearerTokenInterceptorFactory>(security.token));
  }
  return resolved;
}

std::string ConnectionHint(const ChannelSecurity& security) {
  if (security.tls) {
    return "over TLS: check that the daemon serves TLS, that its certificate "
           "chains to root_certificates (ITERD_TLS_CA) and names this address, "
           "and, if it requires client certificates, certificate_chain and "
           "private_key (ITERD_TLS_CERT, ITERD_TLS_KEY)";
  }
  return "in plaintext: if the daemon serves TLS, set root_certificates "
         "(ITERD_TLS_CA)";
}

}  // namespace iterd::client
