// File: server/ops/process_stats.h
//
// Figures about the daemon's own process for /metrics, read from /proc/self
// (Linux): resident memory, CPU time, threads and open file descriptors.
//
// Stateless functions; thread-safe.

#ifndef ITERD_SERVER_OPS_PROCESS_STATS_H_
#define ITERD_SERVER_OPS_PROCESS_STATS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iterd::ops {

struct ProcessStats {
  int64_t resident_bytes = 0;
  int64_t virtual_bytes = 0;
  double cpu_seconds = 0;  // User + system.
  int64_t threads = 0;
  int64_t open_fds = 0;
};

// Reads /proc/self/statm, /proc/self/stat and /proc/self/fd. An error names
// the file that could not be read or parsed.
absl::StatusOr<ProcessStats> ReadProcessStats();

// Parses the contents of a /proc/<pid>/stat file (exposed for tests): CPU time
// and thread count. `ticks_per_second` is sysconf(_SC_CLK_TCK).
absl::Status ParseProcStat(absl::string_view text, int64_t ticks_per_second,
                           ProcessStats* stats);

}  // namespace iterd::ops

#endif  // ITERD_SERVER_OPS_PROCESS_STATS_H_
