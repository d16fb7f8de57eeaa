#include "server/ops/daemon_metrics.h"

#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/ops/metrics.h"
#include "server/ops/process_stats.h"

namespace iterd::ops {
namespace {

using ::testing::HasSubstr;

std::string RenderSnapshot(const service::ServiceSnapshot& snapshot) {
  ProcessStats process;
  process.resident_bytes = 4096;
  const absl::Time start = absl::FromUnixSeconds(1000);
  return RenderPrometheusText(DaemonMetricFamilies(snapshot, process, start,
                                                   start + absl::Seconds(12)));
}

TEST(DaemonMetricFamiliesTest, ServiceCountersAppearUnderTheirNames) {
  service::ServiceSnapshot snapshot;
  snapshot.batches_served = 7;
  snapshot.bytes_served = 7000;
  snapshot.registry.records_decoded = 30;
  snapshot.registry.records_skipped = 2;
  snapshot.registry.decode_nanoseconds = 1500000000;
  snapshot.registry.stats.open_iterators = 1;
  snapshot.fetch_wait_seconds = 0.25;
  const std::string text = RenderSnapshot(snapshot);
  EXPECT_THAT(text, HasSubstr("\niterd_batches_served_total 7\n"));
  EXPECT_THAT(text, HasSubstr("\niterd_bytes_served_total 7000\n"));
  EXPECT_THAT(text, HasSubstr("\niterd_records_decoded_total 30\n"));
  EXPECT_THAT(text, HasSubstr("\niterd_records_skipped_total 2\n"));
  EXPECT_THAT(text, HasSubstr("\niterd_decode_seconds_total 1.5\n"));
  EXPECT_THAT(text, HasSubstr("\niterd_iterators_open 1\n"));
  EXPECT_THAT(text, HasSubstr("\niterd_fetch_wait_seconds_total 0.25\n"));
  EXPECT_THAT(text, HasSubstr("\niterd_uptime_seconds 12\n"));
  EXPECT_THAT(text, HasSubstr("\nprocess_resident_memory_bytes 4096\n"));
  EXPECT_THAT(text, HasSubstr("\nprocess_start_time_seconds 1000\n"));
  EXPECT_THAT(text, HasSubstr("\niterd_build_info{build=\""));
}

TEST(DaemonMetricFamiliesTest, QueueDepthIsLabelledByIteratorAndPipeline) {
  service::ServiceSnapshot snapshot;
  service::IteratorSnapshot iterator;
  iterator.display_id = "it-17";
  iterator.pipeline_name = "train";
  iterator.queued_batches = 3;
  snapshot.registry.iterators.push_back(iterator);
  EXPECT_THAT(RenderSnapshot(snapshot),
              HasSubstr("\niterd_prefetch_queue_batches{iterator_id=\"it-17\","
                        "pipeline=\"train\"} 3\n"));
}

TEST(DaemonMetricFamiliesTest, EveryCounterNameEndsInTotal) {
  for (const MetricFamily& family :
       DaemonMetricFamilies(service::ServiceSnapshot(), ProcessStats(),
                            absl::Now(), absl::Now())) {
    if (family.type == MetricType::kCounter) {
      EXPECT_TRUE(absl::EndsWith(family.name, "_total")) << family.name;
    }
  }
}

TEST(DaemonMetricFamiliesTest, ProcessFamiliesAreLeftOutWithoutProc) {
  const std::string text = RenderPrometheusText(DaemonMetricFamilies(
      service::ServiceSnapshot(), absl::UnavailableError("no /proc"),
      absl::Now(), absl::Now()));
  EXPECT_THAT(text, Not(HasSubstr("process_resident_memory_bytes")));
  EXPECT_THAT(text, HasSubstr("iterd_batches_served_total 0"));
}

TEST(ParseProcStatTest, ReadsCpuTimeAndThreadsAfterACommandWithParentheses) {
  // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
  // majflt cmajflt utime stime cutime cstime priority nice num_threads ...
  const std::string stat =
      "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 7 0 "
      "12345 1000000 500";
  ProcessStats stats;
  ASSERT_TRUE(ParseProcStat(stat, 100, &stats).ok());
  EXPECT_DOUBLE_EQ(stats.cpu_seconds, 4.0);
  EXPECT_EQ(stats.threads, 7);
}

TEST(ParseProcStatTest, TruncatedStatIsAnErrorNamingTheFile) {
  ProcessStats stats;
  const absl::Status status = ParseProcStat("42 (iterd) S 1 2", 100, &stats);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("/proc/self/stat"));
}

TEST(ReadProcessStatsTest, ReportsThisProcessesMemoryAndThreads) {
  absl::StatusOr<ProcessStats> stats = ReadProcessStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GT(stats->resident_bytes, 1 << 20);
  EXPECT_GE(stats->virtual_bytes, stats->resident_bytes);
  EXPECT_GE(stats->threads, 1);
  EXPECT_GE(stats->open_fds, 3);
}

}  // namespace
}  // namespace iterd::ops
