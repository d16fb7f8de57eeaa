#include "common/net/loopback_address.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace iterd {
namespace {

// 127.0.0.0/8 written as a dotted quad: "127.evil.example" is a host name.
bool IsLoopbackIpv4(absl::string_view host) {
  if (!absl::ConsumePrefix(&host, "127.")) return false;
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isdigit(c) || c == '.';
  });
}

}  // namespace

bool IsLoopbackAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix:") ||
      absl::StartsWith(address, "unix-abstract:")) {
    return true;
  }
  for (absl::string_view scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (absl::ConsumePrefix(&address, scheme)) break;
  }
  // Drop the port: after the last ':' unless inside brackets.
  if (absl::ConsumePrefix(&address, "[")) {
    address = address.substr(0, address.find(']'));
  } else if (address.find(':') == address.rfind(':')) {
    address = address.substr(0, address.find(':'));
  }
  return address == "localhost" || address == "::1" || IsLoopbackIpv4(address);
}

}  // namespace iterd
