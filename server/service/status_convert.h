// File: server/service/status_convert.h
//
// The one place where absl::Status becomes grpc::Status (same code number, same
// message; an empty message is replaced by the code's name, one longer than
// 2 KB is cut).

#ifndef ITERD_SERVER_SERVICE_STATUS_CONVERT_H_
#define ITERD_SERVER_SERVICE_STATUS_CONVERT_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace iterd::service {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_STATUS_CONVERT_H_
