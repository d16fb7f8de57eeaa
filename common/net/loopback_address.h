// File: common/net/loopback_address.h
//
// Whether a gRPC address names this host only. The client asks it to decide
// whether same-host shared memory is worth trying; the daemon asks it to
// decide whether serving without TLS or tokens is safe (a loopback listener
// is reachable from this host only).

#ifndef ITERD_COMMON_NET_LOOPBACK_ADDRESS_H_
#define ITERD_COMMON_NET_LOOPBACK_ADDRESS_H_

#include "absl/strings/string_view.h"

namespace iterd {

// "127.x.y.z:port", "localhost:port", "[::1]:port", "unix:..." and
// "unix-abstract:...", also with gRPC's "dns:", "dns:///", "ipv4:", "ipv6:"
// prefixes. Anything else, wildcard addresses ("0.0.0.0", "[::]", ":port")
// and host names included, is not.
bool IsLoopbackAddress(absl::string_view address);

}  // namespace iterd

#endif  // ITERD_COMMON_NET_LOOPBACK_ADDRESS_H_
