#include "server/ops/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace iterd::ops {

MetricFamily SingleValue(std::string name, std::string help, MetricType type,
                         double value) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  family.samples.push_back({{}, value});
  return family;
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        escaped += "\\\\";
        break;
      case '"':
        escaped += "\\\"";
        break;
      case '\n':
        escaped += "\\n";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string EscapeHelp(absl::string_view help) {
  std::string escaped;
  escaped.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Counters are integers most of the time; exact up to 2^53.
  constexpr double kExactIntegerLimit = 9007199254740992.0;
  if (value == std::floor(value) && std::fabs(value) <= kExactIntegerLimit) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The fewest significant digits that read back as the same double (17
  // always do), so that 0.1 prints as 0.1.
  char buffer[32];
  for (int digits = 15; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", digits, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::string RenderPrometheusText(const std::vector<MetricFamily>& families) {
  std::string text;
  for (const MetricFamily& family : families) {
    absl::StrAppend(&text, "# HELP ", family.name, " ", EscapeHelp(family.help),
                    "\n");
    absl::StrAppend(&text, "# TYPE ", family.name, " ",
                    family.type == MetricType::kCounter ? "counter" : "gauge",
                    "\n");
    for (const MetricSample& sample : family.samples) {
      text += family.name;
      if (!sample.labels.empty()) {
        text += '{';
        for (size_t i = 0; i < sample.labels.size(); ++i) {
          if (i > 0) text += ',';
          absl::StrAppend(&text, sample.labels[i].first, "=\"",
                          EscapeLabelValue(sample.labels[i].second), "\"");
        }
        text += '}';
      }
      absl::StrAppend(&text, " ", FormatSampleValue(sample.value), "\n");
    }
  }
  return text;
}

}  // namespace iterd::ops
