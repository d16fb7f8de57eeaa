// File: client/cpp/sharded_iterator_daemons.h
//
// The arithmetic every trainer of a ShardedIterator (sharded_iterator.h) does
// alike, without talking to the others, exactly as the Python client's
// iterd/sharded_iter.py does it: which daemons (resolved, de-duplicated and
// sorted), how many samples and batches each part and trainer gets, and which
// errors mean a daemon is gone.
//
// Stateless and thread-safe (ResolveDaemons reads $ITERD_ADDRESS and DNS).

#ifndef ITERD_CLIENT_CPP_SHARDED_ITERATOR_DAEMONS_H_
#define ITERD_CLIENT_CPP_SHARDED_ITERATOR_DAEMONS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace iterd::client {

// The daemons of `entries` ("host:port", "[v6]:port", comma lists of them,
// DNS names expanding to every A/AAAA record), de-duplicated and sorted
// numerically (IPv4 first), so every trainer that sees the same DNS answer
// numbers them the same way. No entries: $ITERD_ADDRESS. InvalidArgument when
// empty or malformed (naming the entry), Unavailable when a name does not
// resolve. `host_names`, when given, receives for each address resolved from
// a DNS name that name: what the daemon's TLS certificate is checked against.
absl::StatusOr<std::vector<std::string>> ResolveDaemons(
    absl::Span<const std::string> entries,
    std::map<std::string, std::string>* host_names = nullptr);

// Samples of each of `num_parts` parts under the ceil split (ImageRecordIter
// with .idx, NDArrayIter): ceil(total / num_parts) each, the last ones short
// or empty. REQUIRES: num_parts > 0.
std::vector<int64_t> CeilSplitSizes(int64_t total, int64_t num_parts);

// Batches a part of `samples` gives: the short last one counts unless
// discarded. REQUIRES: batch_size > 0.
int64_t BatchesOf(int64_t samples, int64_t batch_size, bool discard_short);

// Every trainer's natural batch count: trainer t reads parts t * daemons + d.
// REQUIRES: part_samples.size() == world_size * daemons.
std::vector<int64_t> TrainerBatchCounts(absl::Span<const int64_t> part_samples,
                                        int daemons, int world_size,
                                        int64_t batch_size, bool discard_short);

// The codes that mean a daemon (or its copy of the iterator) is gone rather
// than the data being bad: UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED,
// NOT_FOUND, UNKNOWN, INTERNAL (Python's _DAEMON_FAILURE_CODES).
bool IsDaemonFailure(const absl::Status& status);

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_SHARDED_ITERATOR_DAEMONS_H_
