// File: client/cpp/channel_security.h
//
// How a client proves who it talks to and who it is: TLS (the daemon's
// certificate checked against trusted roots; a client certificate for mutual
// TLS) and a bearer token sent as "authorization: Bearer TOKEN" on every
// call. Settings not given fall back to the environment, so that a training
// script need not change when the cluster is secured: ITERD_TLS_CA,
// ITERD_TLS_CERT, ITERD_TLS_KEY (PEM files) and ITERD_TOKEN (or
// ITERD_TOKEN_FILE, a file holding it).

#ifndef ITERD_CLIENT_CPP_CHANNEL_SECURITY_H_
#define ITERD_CLIENT_CPP_CHANNEL_SECURITY_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/support/client_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace iterd::client {

struct ClientSecurity {
  // Each of the three is PEM text or the path of a PEM file (text that
  // starts with "-----BEGIN" is PEM). Any of them set means TLS.
  // CA certificates the daemon's certificate must chain to; empty with TLS:
  // gRPC's default roots.
  std::string root_certificates;
  // This client's certificate chain and key, for mutual TLS.
  std::string certificate_chain;
  std::string private_key;
  // The name the daemon's certificate must carry when it differs from the
  // host dialled (an address resolved from a Service's DNS name; the
  // ShardedIterator sets it so). Empty: the dialled host.
  std::string server_name;
  // Bearer token for daemons started with --auth_token_file. Sent in clear
  // over a plaintext channel: only where the operator chose no TLS.
  std::string token;
  // Fill empty fields from the ITERD_TLS_* and ITERD_TOKEN[_FILE] variables.
  bool use_environment = true;
};

// What a channel is made with.
struct ChannelSecurity {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Adds the token to every call; empty without a token.
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  bool tls = false;
  bool has_token = false;
};

// InvalidArgument naming the setting (and file) when a PEM file cannot be
// read, a key comes without a certificate or the other way round, or the
// token is empty after trimming. Never puts a token into a message.
absl::StatusOr<ChannelSecurity> ResolveChannelSecurity(
    const ClientSecurity& security);

// A hint to append to a connection failure: what to check given the
// security in use (e.g. "the daemon may serve TLS: set root_certificates or
// ITERD_TLS_CA").
std::string ConnectionHint(const ChannelSecurity& security);

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_CHANNEL_SECURITY_H_
