// File: tools/im2rec/progress.h
//
// Progress: im2rec's progress output while packing. On a terminal a bar
// redrawn in place ("\r") at most every 100 ms, with records/s and the ETA;
// otherwise (a log file, a pipe) a plain line every 5 seconds, so that logs
// stay readable. Finish() prints the summary line.
//
// Not thread-safe: called from the one thread that writes records.
// Does not own `out`.

#ifndef ITERD_TOOLS_IM2REC_PROGRESS_H_
#define ITERD_TOOLS_IM2REC_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/time/time.h"

namespace iterd::im2rec {

struct PackCounts {
  uint64_t records = 0;  // records written
  uint64_t bytes = 0;    // .rec bytes written
  uint64_t skipped = 0;  // images that could not be read or decoded
};

// "[#####.....]  50.0%  120/240 records  35.2 rec/s  ETA 0:03" for `width`
// bar characters. `total` 0 shows no bar and no ETA.
std::string FormatProgressBar(uint64_t done, uint64_t total,
                              double elapsed_seconds, int width);

// "1:05", "1:02:03"; "?" for a negative or non-finite number.
std::string FormatDuration(double seconds);

class Progress final {
 public:
  // `label` names the work (e.g. the list file); `interactive` chooses the
  // bar over periodic lines (callers pass isatty(fileno(out))).
  Progress(std::FILE* out, bool interactive, std::string label, uint64_t total);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Records the counts so far (`done` = records written + skipped) and
  // prints when due.
  void Update(uint64_t done, const PackCounts& counts);

  // Prints `message` on its own line (clearing the bar first on a terminal;
  // the next Update redraws it).
  void Note(const std::string& message);

  // Clears the bar and prints the summary; returns it (without newline).
  std::string Finish(const PackCounts& counts);

 private:
  std::FILE* out_;
  bool interactive_;
  std::string label_;
  uint64_t total_;
  absl::Time start_;
  absl::Time last_print_;
  size_t last_width_ = 0;
};

}  // namespace iterd::im2rec

#endif  // ITERD_TOOLS_IM2REC_PROGRESS_H_
