#include "tools/im2rec/progress.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace iterd::im2rec {
namespace {

constexpr absl::Duration kBarInterval = absl::Milliseconds(100);
constexpr absl::Duration kLineInterval = absl::Seconds(5);
constexpr int kBarWidth = 30;

}  // namespace

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const uint64_t total = static_cast<uint64_t>(std::llround(seconds));
  const uint64_t hours = total / 3600;
  const uint64_t minutes = (total / 60) % 60;
  const uint64_t secs = total % 60;
  if (hours > 0) return absl::StrFormat("%d:%02d:%02d", hours, minutes, secs);
  return absl::StrFormat("%d:%02d", minutes, secs);
}

std::string FormatProgressBar(uint64_t done, uint64_t total,
                              double elapsed_seconds, int width) {
  const double rate =
      elapsed_seconds > 0 ? static_cast<double>(done) / elapsed_seconds : 0;
  if (total == 0) {
    return absl::StrFormat("%d records  %.1f rec/s", done, rate);
  }
  const double fraction =
      std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const int filled = static_cast<int>(fraction * width);
  const std::string bar =
      std::string(filled, '#') + std::string(width - filled, '.');
  const double eta =
      rate > 0 ? static_cast<double>(total - std::min(done, total)) / rate : -1;
  return absl::StrFormat("[%s] %5.1f%%  %d/%d records  %.1f rec/s  ETA %s", bar,
                         fraction * 100, done, total, rate,
                         FormatDuration(eta));
}

Progress::Progress(std::FILE* out, bool interactive, std::string label,
                   uint64_t total)
    : out_(out),
      interactive_(interactive),
      label_(std::move(label)),
      total_(total),
      start_(absl::Now()),
      last_print_(start_) {}

void Progress::Update(uint64_t done, const PackCounts& counts) {
  const absl::Time now = absl::Now();
  if (now - last_print_ < (interactive_ ? kBarInterval : kLineInterval)) {
    return;
  }
  last_print_ = now;
  const double elapsed = absl::ToDoubleSeconds(now - start_);
  std::string line = FormatProgressBar(done, total_, elapsed, kBarWidth);
  if (counts.skipped > 0) absl::StrAppend(&line, "  skipped ", counts.skipped);
  if (interactive_) {
    // Pad over the previous, possibly longer, bar.
    const size_t width = line.size();
    if (width < last_width_) line.append(last_width_ - width, ' ');
    last_width_ = width;
    std::fprintf(out_, "\r%s", line.c_str());
  } else {
    std::fprintf(out_, "%s: %s\n", label_.c_str(), line.c_str());
  }
  std::fflush(out_);
}

void Progress::Note(const std::string& message) {
  if (interactive_ && last_width_ > 0) {
    std::fprintf(out_, "\r%s\r", std::string(last_width_, ' ').c_str());
    last_print_ = absl::InfinitePast();  // redraw at the next Update
  }
  std::fprintf(out_, "%s\n", message.c_str());
  std::fflush(out_);
}

std::string Progress::Finish(const PackCounts& counts) {
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start_);
  const std::string summary = absl::StrFormat(
      "%s: %d records, %.1f MB, skipped %d, %.2f s (%.1f rec/s, %.1f MB/s)",
      label_, counts.records, static_cast<double>(counts.bytes) / 1e6,
      counts.skipped, elapsed,
      elapsed > 0 ? static_cast<double>(counts.records) / elapsed : 0.0,
      elapsed > 0 ? static_cast<double>(counts.bytes) / 1e6 / elapsed : 0.0);
  if (interactive_ && last_width_ > 0) {
    std::fprintf(out_, "\r%s\r", std::string(last_width_, ' ').c_str());
  }
  std::fprintf(out_, "%s\n", summary.c_str());
  std::fflush(out_);
  return summary;
}

}  // namespace iterd::im2rec
