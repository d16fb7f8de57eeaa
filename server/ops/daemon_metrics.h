// File: server/ops/daemon_metrics.h
//
// The daemon's /metrics content: turns a ServiceSnapshot (counters the service
// and its iterator registry keep anyway, also behind GetServerStats and
// GetIteratorStats) plus /proc figures into Prometheus metric families, and
// the HTTP handler that serves them. Names are prefixed "iterd_", except the
// conventional process_* ones.
//
// Thread-safe: the handler only reads the service's thread-safe snapshot.

#ifndef ITERD_SERVER_OPS_DAEMON_METRICS_H_
#define ITERD_SERVER_OPS_DAEMON_METRICS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/ops/http_server.h"
#include "server/ops/metrics.h"
#include "server/ops/process_stats.h"
#include "server/service/iterd_service.h"

namespace iterd::ops {

// Every family, in a fixed order. Process families are left out when
// `process` is an error (no /proc).
std::vector<MetricFamily> DaemonMetricFamilies(
    const service::ServiceSnapshot& service,
    const absl::StatusOr<ProcessStats>& process, absl::Time start_time,
    absl::Time now);

// GET /metrics for `service` (which must outlive the handler) of a daemon
// started at `start_time`.
HttpHandler MetricsHandler(service::IterdServiceImpl* service,
                           absl::Time start_time);

}  // namespace iterd::ops

#endif  // ITERD_SERVER_OPS_DAEMON_METRICS_H_
