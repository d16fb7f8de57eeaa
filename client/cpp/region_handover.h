// File: client/cpp/region_handover.h
//
// The client half of the daemon's shared-memory hand-over
// (server/service/shared_memory_handover.h, service.proto
// SharedMemoryRegion): connect to the abstract Unix socket the
// OpenIteratorResponse names, send the region's token, receive the region's
// read-only descriptor with SCM_RIGHTS. Used by SharedMemoryMapping and by the
// daemon's tests.

#ifndef ITERD_CLIENT_CPP_REGION_HANDOVER_H_
#define ITERD_CLIENT_CPP_REGION_HANDOVER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace iterd::client {

// The descriptor (O_CLOEXEC; the caller owns it) that the daemon listening on
// `socket_name` ("@name", abstract namespace) hands over for `token`.
// InvalidArgument for a name that is not "@..." or too long; Unavailable when
// the connection fails or closes without exactly one descriptor (wrong token,
// used token, another daemon); DeadlineExceeded after `timeout` on connect,
// send or receive.
absl::StatusOr<int> ReceiveRegionDescriptor(absl::string_view socket_name,
                                            absl::string_view token,
                                            absl::Duration timeout);

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_REGION_HANDOVER_H_
