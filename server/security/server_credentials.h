// File: server/security/server_credentials.h
//
// The gRPC port's credentials from the TLS flags: plaintext, TLS, or mutual
// TLS, built from gRPC's own TLS stack (no crypto of iterd's). The files are
// watched by gRPC's FileWatcherCertificateProvider: every `reload_seconds`
// they are read again and new connections get the new certificate (and,
// under mTLS, the new client CA); established connections keep theirs. The
// provider needs each update to appear atomically (rename a complete file or
// swap a symlinked directory, as Kubernetes does for Secret volumes): a
// half-written key and certificate pair is rejected and the old one kept.

#ifndef ITERD_SERVER_SECURITY_SERVER_CREDENTIALS_H_
#define ITERD_SERVER_SECURITY_SERVER_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace iterd::security {

struct TlsFiles {
  std::string certificate_file;  // PEM certificate chain, leaf first.
  std::string key_file;          // PEM private key.
  // PEM CA certificates; when set, clients must present a certificate that
  // chains to one of them (mutual TLS).
  std::string client_ca_file;
  int reload_seconds = 10;

  bool enabled() const { return !certificate_file.empty(); }
};

// InvalidArgument naming the flag when the combination is incomplete (a
// certificate without key, a client CA without certificate), a file is
// unreadable, or a file holds no PEM block of the expected kind: a mistake
// stops start-up instead of failing every handshake later.
absl::Status CheckTlsFiles(const TlsFiles& files);

// Plaintext credentials when !files.enabled(); TLS (mTLS with a client CA)
// otherwise. Call CheckTlsFiles first.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const TlsFiles& files);

}  // namespace iterd::security

#endif  // ITERD_SERVER_SECURITY_SERVER_CREDENTIALS_H_
