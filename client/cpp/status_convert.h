// File: client/cpp/status_convert.h
//
// FromGrpcStatus: the one place where the C++ client turns a grpc::Status into
// an absl::Status. Both use google.rpc.Code numbering, so the code carries over
// unchanged and the daemon's message is kept verbatim (it names the field or
// file at fault). Stateless and thread-safe.

#ifndef ITERD_CLIENT_CPP_STATUS_CONVERT_H_
#define ITERD_CLIENT_CPP_STATUS_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace iterd::client {

// Same code, same message. Codes outside google.rpc.Code become UNKNOWN.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_STATUS_CONVERT_H_
