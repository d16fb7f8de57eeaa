#include "server/ops/process_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/io/small_file.h"

namespace iterd::ops {
namespace {

// Fields of /proc/<pid>/stat counted from the one after "(comm)", which is
// field 3 (state) in proc(5): utime is field 14, stime 15, num_threads 20.
constexpr size_t kUserTicksIndex = 14 - 3;
constexpr size_t kSystemTicksIndex = 15 - 3;
constexpr size_t kThreadsIndex = 20 - 3;

// /proc/self/stat and statm are a few hundred bytes.
constexpr size_t kMaxProcFileBytes = 64 << 10;

absl::StatusOr<std::string> ReadProcFile(const char* path) {
  return io::ReadSmallFile(path, kMaxProcFileBytes);
}

}  // namespace

absl::Status ParseProcStat(absl::string_view text, int64_t ticks_per_second,
                           ProcessStats* stats) {
  // The command name may hold spaces and parentheses: fields start after the
  // last ')'.
  const size_t close = text.rfind(')');
  if (close == absl::string_view::npos || ticks_per_second <= 0) {
    return absl::DataLossError("/proc/self/stat: no ')' after the command");
  }
  const std::vector<absl::string_view> fields =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
  int64_t user_ticks = 0;
  int64_t system_ticks = 0;
  if (fields.size() <= kThreadsIndex ||
      !absl::SimpleAtoi(fields[kUserTicksIndex], &user_ticks) ||
      !absl::SimpleAtoi(fields[kSystemTicksIndex], &system_ticks) ||
      !absl::SimpleAtoi(fields[kThreadsIndex], &stats->threads)) {
    return absl::DataLossError(
        "/proc/self/stat: fields 14, 15 and 20 (utime, stime, num_threads) "
        "are not numbers");
  }
  stats->cpu_seconds =
      static_cast<double>(user_ticks + system_ticks) / ticks_per_second;
  return absl::OkStatus();
}

absl::StatusOr<ProcessStats> ReadProcessStats() {
  ProcessStats stats;
  absl::StatusOr<std::string> statm = ReadProcFile("/proc/self/statm");
  if (!statm.ok()) return statm.status();
  const std::vector<absl::string_view> pages =
      absl::StrSplit(*statm, ' ', absl::SkipWhitespace());
  int64_t virtual_pages = 0;
  int64_t resident_pages = 0;
  if (pages.size() < 2 || !absl::SimpleAtoi(pages[0], &virtual_pages) ||
      !absl::SimpleAtoi(pages[1], &resident_pages)) {
    return absl::DataLossError(
        "/proc/self/statm: fields 1 and 2 (size, resident) are not numbers");
  }
  const int64_t page_bytes = sysconf(_SC_PAGESIZE);
  stats.virtual_bytes = virtual_pages * page_bytes;
  stats.resident_bytes = resident_pages * page_bytes;

  absl::StatusOr<std::string> stat = ReadProcFile("/proc/self/stat");
  if (!stat.ok()) return stat.status();
  absl::Status status = ParseProcStat(*stat, sysconf(_SC_CLK_TCK), &stats);
  if (!status.ok()) return status;

  if (DIR* fds = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(fds)) {
      if (entry->d_name[0] != '.') ++stats.open_fds;
    }
    closedir(fds);
    --stats.open_fds;  // The directory stream's own descriptor.
  }
  return stats;
}

}  // namespace iterd::ops
