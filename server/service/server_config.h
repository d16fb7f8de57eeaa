// File: server/service/server_config.h
//
// Loading and validating the daemon's ServerConfig (text-format protobuf,
// --config). Errors name the file, line and field, so that a bad config stops
// start-up with a message a person can act on.

#ifndef ITERD_SERVER_SERVICE_SERVER_CONFIG_H_
#define ITERD_SERVER_SERVICE_SERVER_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "iterd/v1/server_config.pb.h"

namespace iterd::service {

// Parses `path`. NotFound if missing; InvalidArgument "FILE:LINE:COLUMN: ..."
// for a syntax error or an unknown field. The result is validated and has every
// limit defaulted.
absl::StatusOr<v1::ServerConfig> LoadServerConfig(const std::string& path);

// Static checks (names, limits, each pipeline's fields); the message names the
// field, e.g. "pipelines[1] 'train': csv.batch_size: must be positive, got 0".
absl::Status ValidateServerConfig(const v1::ServerConfig& config);

// Fills unset limits with their documented defaults.
void ApplyLimitDefaults(v1::Limits* limits);

// Most threads the gRPC server may run calls on: limits.max_rpc_threads, or
// when unset max_iterators + max_concurrent_opens + 32.
int RpcThreadLimit(const v1::Limits& limits);

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_SERVER_CONFIG_H_
