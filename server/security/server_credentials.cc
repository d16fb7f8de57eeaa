#include "server/security/server_credentials.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/io/small_file.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace iterd::security {
namespace {

// Certificate chains and CA bundles are a few KB; a system CA bundle ~200 KB.
constexpr size_t kMaxPemFileBytes = 4 << 20;

absl::Status CheckPemFile(absl::string_view flag, const std::string& path,
                          absl::string_view block) {
  absl::StatusOr<std::string> text = io::ReadSmallFile(path, kMaxPemFileBytes);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", text.status().message()));
  }
  if (!absl::StrContains(*text, "-----BEGIN ") ||
      !absl::StrContains(*text, block)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, ": ", path, " holds no PEM ", block, " block"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTlsFiles(const TlsFiles& files) {
  if (files.certificate_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert_file and --tls_key_file go together: give both or neither");
  }
  if (!files.enabled()) {
    if (!files.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca_file needs --tls_cert_file and --tls_key_file (the "
          "daemon's own certificate)");
    }
    return absl::OkStatus();
  }
  if (files.reload_seconds < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_reload_seconds: at least 1, got ", files.reload_seconds));
  }
  struct PemFile {
    const char* flag;
    const std::string& path;
    const char* block;
  };
  std::vector<PemFile> pem_files = {
      {"tls_cert_file", files.certificate_file, "CERTIFICATE"},
      {"tls_key_file", files.key_file, "PRIVATE KEY"}};
  if (!files.client_ca_file.empty()) {
    pem_files.push_back(
        {"tls_client_ca_file", files.client_ca_file, "CERTIFICATE"});
  }
  for (const PemFile& file : pem_files) {
    absl::Status status = CheckPemFile(file.flag, file.path, file.block);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const TlsFiles& files) {
  if (!files.enabled()) return grpc::InsecureServerCredentials();
  const bool mutual = !files.client_ca_file.empty();
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          files.key_file, files.certificate_file,
          mutual ? files.client_ca_file : std::string(),
          static_cast<unsigned int>(files.reload_seconds));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (mutual) {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace iterd::security
