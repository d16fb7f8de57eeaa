#include "server/ops/daemon_metrics.h"

#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "google/protobuf/stubs/common.h"
#include "grpcpp/grpcpp.h"

namespace iterd::ops {
namespace {

#ifdef NDEBUG
constexpr char kBuildMode[] = "opt";
#else
constexpr char kBuildMode[] = "dbg";
#endif

MetricFamily Counter(std::string name, std::string help, double value) {
  return SingleValue(std::move(name), std::move(help), MetricType::kCounter,
                     value);
}

MetricFamily Gauge(std::string name, std::string help, double value) {
  return SingleValue(std::move(name), std::move(help), MetricType::kGauge,
                     value);
}

MetricFamily BuildInfo() {
  MetricFamily family = Gauge(
      "iterd_build_info",
      "Always 1; the labels describe the build of the running daemon.", 1);
  family.samples[0].labels = {
      {"build", kBuildMode},
      {"compiler", __VERSION__},
      {"grpc_version", grpc::Version()},
      {"protobuf_version",
       google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION)},
  };
  return family;
}

}  // namespace

std::vector<MetricFamily> DaemonMetricFamilies(
    const service::ServiceSnapshot& service,
    const absl::StatusOr<ProcessStats>& process, absl::Time start_time,
    absl::Time now) {
  const service::RegistrySnapshot& registry = service.registry;
  std::vector<MetricFamily> families;
  families.push_back(BuildInfo());
  families.push_back(Gauge("iterd_uptime_seconds",
                           "Seconds since the daemon started.",
                           absl::ToDoubleSeconds(now - start_time)));
  families.push_back(Gauge("iterd_draining",
                           "1 while the daemon drains before exiting (it "
                           "refuses new iterators), else 0.",
                           service.draining ? 1 : 0));
  families.push_back(Counter("iterd_batches_served_total",
                             "Batches written to Fetch streams.",
                             service.batches_served));
  families.push_back(Counter("iterd_bytes_served_total",
                             "Tensor payload bytes of the batches served.",
                             static_cast<double>(service.bytes_served)));
  families.push_back(Counter("iterd_batches_produced_total",
                             "Batches the pipelines produced (including "
                             "prefetched ones never fetched).",
                             registry.batches_produced));
  families.push_back(
      Counter("iterd_records_decoded_total",
              "Records (images) decoded by the iterators' sources.",
              registry.records_decoded));
  families.push_back(Counter(
      "iterd_decode_seconds_total",
      "Seconds the iterators' decoder threads spent decoding and augmenting "
      "records (summed over threads): divided by records decoded, the cost "
      "of one image.",
      static_cast<double>(registry.decode_nanoseconds) * 1e-9));
  families.push_back(Counter(
      "iterd_records_skipped_total",
      "Corrupt or undecodable records skipped by the iterators' sources.",
      registry.records_skipped));
  families.push_back(Counter(
      "iterd_fetch_wait_seconds_total",
      "Seconds Fetch streams waited for their prefetcher to produce a batch: "
      "grows when the pipelines, not the clients, are the bottleneck.",
      service.fetch_wait_seconds));
  families.push_back(Gauge("iterd_fetch_streams_active",
                           "Fetch streams running now.",
                           service.fetch_streams_active));
  families.push_back(Gauge("iterd_clients_active",
                           "Distinct clients with at least one open iterator.",
                           registry.distinct_clients));
  families.push_back(Gauge("iterd_iterators_open", "Open iterators.",
                           registry.stats.open_iterators));
  families.push_back(Counter("iterd_iterators_opened_total",
                             "Iterators opened since start-up.",
                             registry.stats.iterators_opened));
  families.push_back(
      Counter("iterd_iterators_expired_total",
              "Iterators freed because their client went away or stayed idle.",
              registry.stats.iterators_expired));
  families.push_back(Counter(
      "iterd_opens_refused_draining_total",
      "OpenIterator calls refused (UNAVAILABLE) while the daemon drained.",
      service.opens_refused_draining));
  MetricFamily queue = Gauge(
      "iterd_prefetch_queue_batches",
      "Batches prefetched and waiting to be fetched, per open iterator.", 0);
  queue.samples.clear();
  for (const service::IteratorSnapshot& iterator : registry.iterators) {
    queue.samples.push_back({{{"iterator_id", iterator.display_id},
                              {"pipeline", iterator.pipeline_name}},
                             static_cast<double>(iterator.queued_batches)});
  }
  families.push_back(std::move(queue));
  if (process.ok()) {
    families.push_back(Gauge("process_resident_memory_bytes",
                             "Resident memory of the daemon (RSS).",
                             process->resident_bytes));
    families.push_back(Gauge("process_virtual_memory_bytes",
                             "Virtual memory of the daemon.",
                             process->virtual_bytes));
    families.push_back(Counter("process_cpu_seconds_total",
                               "User and system CPU time of the daemon.",
                               process->cpu_seconds));
    families.push_back(
        Gauge("process_threads", "Threads of the daemon.", process->threads));
    families.push_back(Gauge("process_open_fds",
                             "Open file descriptors of the daemon.",
                             process->open_fds));
  }
  families.push_back(Gauge("process_start_time_seconds",
                           "Start time of the daemon since the Unix epoch.",
                           absl::ToUnixMicros(start_time) * 1e-6));
  return families;
}

HttpHandler MetricsHandler(service::IterdServiceImpl* service,
                           absl::Time start_time) {
  return [service, start_time](const HttpRequest&) {
    HttpResponse response;
    response.content_type = std::string(kPrometheusContentType);
    response.body = RenderPrometheusText(DaemonMetricFamilies(
        service->Snapshot(), ReadProcessStats(), start_time, absl::Now()));
    return response;
  };
}

}  // namespace iterd::ops
