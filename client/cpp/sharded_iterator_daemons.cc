#include "client/cpp/sharded_iterator_daemons.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status/status_macros.h"

namespace iterd::client {
namespace {

constexpr char kAddressEnvironmentVariable[] = "ITERD_ADDRESS";

struct HostPort {
  std::string host;
  int64_t port = 0;
};

// "host:port" or "[v6]:port", split as the Python client splits it.
absl::StatusOr<HostPort> SplitHostPort(absl::string_view original) {
  absl::string_view entry = absl::StripAsciiWhitespace(original);
  HostPort result;
  absl::string_view port;
  if (absl::ConsumePrefix(&entry, "[")) {
    const size_t close = entry.find(']');
    result.host = std::string(entry.substr(0, close));
    if (close != absl::string_view::npos) {
      absl::string_view rest = entry.substr(close + 1);
      if (absl::ConsumePrefix(&rest, ":")) port = rest;
    }
  } else {
    const size_t colon = entry.rfind(':');
    if (colon != absl::string_view::npos) {
      result.host = std::string(entry.substr(0, colon));
      port = entry.substr(colon + 1);
    }
  }
  const bool digits = !port.empty() && std::all_of(port.begin(), port.end(),
                                                   absl::ascii_isdigit);
  if (result.host.empty() || !digits || !absl::SimpleAtoi(port, &result.port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("server address '", original, "' must be HOST:PORT"));
  }
  return result;
}

// The numeric order of Python's ipaddress: IPv4 before IPv6, then the
// address as a number, then the port. The address string breaks ties so the
// order never depends on how the set was built.
using AddressKey =
    std::tuple<int, std::array<uint8_t, 16>, int64_t, std::string>;

AddressKey KeyOf(const std::string& address) {
  AddressKey key{7, {}, 0, address};
  absl::StatusOr<HostPort> split = SplitHostPort(address);
  if (!split.ok()) return key;
  std::get<2>(key) = split->port;
  std::array<uint8_t, 16>& bytes = std::get<1>(key);
  if (inet_pton(AF_INET, split->host.c_str(), bytes.data() + 12) == 1) {
    std::get<0>(key) = 4;
  } else if (inet_pton(AF_INET6, split->host.c_str(), bytes.data()) == 1) {
    std::get<0>(key) = 6;
  }
  return key;
}

bool IsIpLiteral(const std::string& host) {
  uint8_t bytes[16];
  return inet_pton(AF_INET, host.c_str(), bytes) == 1 ||
         inet_pton(AF_INET6, host.c_str(), bytes) == 1;
}

absl::Status AddResolved(absl::string_view name, const HostPort& split,
                         std::set<std::string>* addresses,
                         std::map<std::string, std::string>* host_names) {
  addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* infos = nullptr;
  const std::string port = absl::StrCat(split.port);
  const int error =
      getaddrinfo(split.host.c_str(), port.c_str(), &hints, &infos);
  if (error != 0) {
    return absl::UnavailableError(
        absl::StrCat("server '", name, "': host '", split.host,
                     "' does not resolve: ", gai_strerror(error)));
  }
  for (const addrinfo* info = infos; info != nullptr; info = info->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (info->ai_family == AF_INET6) {
      const auto* address =
          reinterpret_cast<const sockaddr_in6*>(info->ai_addr);
      inet_ntop(AF_INET6, &address->sin6_addr, text, sizeof(text));
      const std::string resolved =
          absl::StrCat("[", text, "]:", ntohs(address->sin6_port));
      addresses->insert(resolved);
      if (host_names != nullptr) (*host_names)[resolved] = split.host;
    } else if (info->ai_family == AF_INET) {
      const auto* address = reinterpret_cast<const sockaddr_in*>(info->ai_addr);
      inet_ntop(AF_INET, &address->sin_addr, text, sizeof(text));
      const std::string resolved =
          absl::StrCat(text, ":", ntohs(address->sin_port));
      addresses->insert(resolved);
      if (host_names != nullptr) (*host_names)[resolved] = split.host;
    }
  }
  freeaddrinfo(infos);
  return absl::OkStatus();
}

}  // namespace

// The codes that mean the daemon (or its copy of the iterator) is gone, not
// that the data is bad: Python's _DAEMON_FAILURE_CODES.
bool IsDaemonFailure(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<std::vector<std::string>> ResolveDaemons(
    absl::Span<const std::string> entries,
    std::map<std::string, std::string>* host_names) {
  std::vector<std::string> names;
  std::vector<std::string> sources(entries.begin(), entries.end());
  if (sources.empty()) {
    const char* environment = std::getenv(kAddressEnvironmentVariable);
    if (environment != nullptr) sources.emplace_back(environment);
  }
  for (const std::string& entry : sources) {
    for (absl::string_view piece : absl::StrSplit(entry, ',')) {
      piece = absl::StripAsciiWhitespace(piece);
      if (!piece.empty()) names.emplace_back(piece);
    }
  }
  if (names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no iterd server address: pass {\"HOST:PORT\", ...} or a DNS name, "
        "or set $",
        kAddressEnvironmentVariable));
  }
  std::set<std::string> addresses;
  for (const std::string& name : names) {
    ITERD_ASSIGN_OR_RETURN(HostPort split, SplitHostPort(name));
    if (IsIpLiteral(split.host)) {
      addresses.insert(name[0] == '['
                           ? absl::StrCat("[", split.host, "]:", split.port)
                           : name);
      continue;
    }
    ITERD_RETURN_IF_ERROR(AddResolved(name, split, &addresses, host_names));
  }
  std::vector<std::pair<AddressKey, std::string>> keyed;
  for (const std::string& address : addresses) {
    keyed.emplace_back(KeyOf(address), address);
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::string> sorted;
  for (auto& [key, address] : keyed) sorted.push_back(std::move(address));
  return sorted;
}

std::vector<int64_t> CeilSplitSizes(int64_t total, int64_t num_parts) {
  const int64_t per_part = (total + num_parts - 1) / num_parts;
  std::vector<int64_t> sizes;
  for (int64_t k = 0; k < num_parts; ++k) {
    sizes.push_back(
        std::max<int64_t>(0, std::min(per_part, total - k * per_part)));
  }
  return sizes;
}

int64_t BatchesOf(int64_t samples, int64_t batch_size, bool discard_short) {
  return discard_short ? samples / batch_size
                       : (samples + batch_size - 1) / batch_size;
}

std::vector<int64_t> TrainerBatchCounts(absl::Span<const int64_t> part_samples,
                                        int daemons, int world_size,
                                        int64_t batch_size,
                                        bool discard_short) {
  std::vector<int64_t> counts;
  for (int trainer = 0; trainer < world_size; ++trainer) {
    int64_t count = 0;
    for (int daemon = 0; daemon < daemons; ++daemon) {
      count += BatchesOf(part_samples[trainer * daemons + daemon], batch_size,
                         discard_short);
    }
    counts.push_back(count);
  }
  return counts;
}

}  // namespace iterd::client
