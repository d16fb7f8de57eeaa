// File: server/ops/metrics.h
//
// The Prometheus text exposition format (version 0.0.4) for the daemon's
// /metrics endpoint: metric families (a name, a help line, a type and labelled
// samples) rendered as `# HELP` / `# TYPE` lines and `name{label="value"} 1`
// samples, with label values and help text escaped as the format requires.
//
// Families are plain values built per scrape (server/ops/daemon_metrics.h), so
// nothing here is shared between threads; thread-compatible.

#ifndef ITERD_SERVER_OPS_METRICS_H_
#define ITERD_SERVER_OPS_METRICS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace iterd::ops {

// The Content-Type of the format rendered here.
inline constexpr absl::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge };

struct MetricSample {
  // Label name -> value, in output order. Names must be valid Prometheus label
  // names; values may hold anything (they are escaped).
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

struct MetricFamily {
  std::string name;  // Counters end in "_total", as the format asks.
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<MetricSample> samples;
};

// A family with one unlabelled sample.
MetricFamily SingleValue(std::string name, std::string help, MetricType type,
                         double value);

// Backslash, double quote and newline escaped, as label values require.
std::string EscapeLabelValue(absl::string_view value);

// Backslash and newline escaped, as HELP text requires.
std::string EscapeHelp(absl::string_view help);

// Integers print without exponent or fraction (up to 2^53); others in the
// shortest round-tripping form; NaN and infinities as "NaN", "+Inf", "-Inf".
std::string FormatSampleValue(double value);

// The text exposition of `families`, in order. A family with no samples still
// gets its HELP and TYPE lines (an empty per-iterator gauge, say).
std::string RenderPrometheusText(const std::vector<MetricFamily>& families);

}  // namespace iterd::ops

#endif  // ITERD_SERVER_OPS_METRICS_H_
