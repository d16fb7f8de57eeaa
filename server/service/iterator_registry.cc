#include "server/service/iterator_registry.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"

namespace iterd::service {
namespace {

std::string NewIteratorId() {
  std::random_device random;
  return absl::StrFormat("it-%08x%08x%08x", random(), random(), random());
}

}  // namespace

IteratorSession::~IteratorSession() { Shutdown(); }

int64_t IteratorSession::SlotOf(const Batch& batch) const {
  const SharedMemoryRegion* region = shared_memory_.region.get();
  if (region == nullptr) return -1;
  const uintptr_t payload = reinterpret_cast<uintptr_t>(batch.payload().data());
  const uintptr_t first = reinterpret_cast<uintptr_t>(region->slot(0).data());
  const uintptr_t offset = payload - first;
  if (payload < first || offset % region->slot_bytes() != 0 ||
      offset / region->slot_bytes() >= region->slots() ||
      batch.payload().size() > region->slot_bytes()) {
    return -1;
  }
  return static_cast<int64_t>(offset / region->slot_bytes());
}

void IteratorSession::HoldBatch(std::shared_ptr<const Batch> batch) {
  absl::MutexLock lock(&mu_);
  held_.push_back(std::move(batch));
}

void IteratorSession::ReleaseHeldBatches() {
  std::vector<std::shared_ptr<const Batch>> released;
  {
    absl::MutexLock lock(&mu_);
    released.swap(held_);
  }
  // Destroyed outside mu_: a buffer going back to its pool takes the pool's
  // lock and may wake the producer.
}

void IteratorSession::Shutdown() {
  ReleaseHeldBatches();
  if (shared_memory_.pool != nullptr) shared_memory_.pool->Cancel();
}

bool IteratorSession::BeginStream() {
  absl::MutexLock lock(&mu_);
  if (streaming_) return false;
  streaming_ = true;
  last_used_ = absl::Now();
  return true;
}

void IteratorSession::EndStream() {
  absl::MutexLock lock(&mu_);
  streaming_ = false;
  last_used_ = absl::Now();
}

void IteratorSession::Touch() {
  absl::MutexLock lock(&mu_);
  last_used_ = absl::Now();
}

bool IteratorSession::IdleSince(absl::Time now, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return !streaming_ && now - last_used_ >= timeout;
}

void IteratorSession::RestartQueueCount(int64_t produced_before_reset) {
  // Read before the reset, not after: the producer restarts as soon as the
  // reset returns, and counting its new batches as dropped would be wrong by up
  // to the whole queue.
  produced_before_reset_.store(produced_before_reset,
                               std::memory_order_relaxed);
  taken_.store(0, std::memory_order_relaxed);
}

int64_t IteratorSession::QueuedBatches() {
  const int64_t queued =
      pipeline_.prefetcher->batches_produced() -
      produced_before_reset_.load(std::memory_order_relaxed) -
      taken_.load(std::memory_order_relaxed);
  return std::max<int64_t>(0, queued);
}

IteratorRegistry::IteratorRegistry(const RegistryOptions& options)
    : options_(options), reaper_([this] { ReaperLoop(); }) {}

IteratorRegistry::~IteratorRegistry() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  reaper_.join();
  CancelAll();
}

absl::Status IteratorRegistry::CheckCapacity() {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(sessions_.size()) < options_.max_iterators) {
    return absl::OkStatus();
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("the daemon already has ", sessions_.size(),
                   " open iterators (limits.max_iterators); close one first"));
}

absl::Status IteratorRegistry::ReserveInlineBytes(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  // Written so that a huge `bytes` cannot wrap the sum around.
  if (bytes > options_.max_inline_bytes ||
      inline_bytes_reserved_ > options_.max_inline_bytes - bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "uploading ", bytes,
        " bytes of arrays would exceed the daemon's budget of ",
        options_.max_inline_bytes, " bytes (limits.max_inline_bytes; ",
        inline_bytes_reserved_, " in use)"));
  }
  inline_bytes_reserved_ += bytes;
  return absl::OkStatus();
}

void IteratorRegistry::ReleaseInlineBytes(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  inline_bytes_reserved_ -= bytes;
}

absl::StatusOr<std::shared_ptr<IteratorSession>> IteratorRegistry::Add(
    pipeline::OpenedPipeline pipeline, std::string client,
    std::string pipeline_name, uint64_t inline_bytes,
    SessionSharedMemory shared_memory) {
  auto session = std::make_shared<IteratorSession>(
      NewIteratorId(), std::move(client), std::move(pipeline_name),
      std::move(pipeline), inline_bytes, std::move(shared_memory));
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(sessions_.size()) >= options_.max_iterators) {
    inline_bytes_reserved_ -= inline_bytes;
    return absl::ResourceExhaustedError(
        "too many open iterators (limits.max_iterators)");
  }
  sessions_[session->id()] = session;
  ++stats_.iterators_opened;
  return session;
}

absl::StatusOr<std::shared_ptr<IteratorSession>> IteratorRegistry::Find(
    const std::string& id) {
  std::shared_ptr<IteratorSession> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      return absl::NotFoundError(absl::StrCat(
          "no iterator '", id,
          "': it was closed, or freed after its client went away or stayed "
          "idle too long"));
    }
    session = it->second;
  }
  session->Touch();
  return session;
}

void IteratorRegistry::Remove(const std::string& id, absl::string_view reason,
                              bool expired) {
  std::shared_ptr<IteratorSession> session;
  {
    absl::MutexLock totals_lock(&totals_mu_);
    {
      absl::MutexLock lock(&mu_);
      auto it = sessions_.find(id);
      if (it == sessions_.end()) return;
      session = std::move(it->second);
      sessions_.erase(it);
      inline_bytes_reserved_ -= session->inline_bytes();
      if (expired) ++stats_.iterators_expired;
    }
    // Outside mu_: Find() need not wait for the source's and prefetcher's
    // locks.
    const pipeline::OpenedPipeline& pipeline = session->pipeline();
    if (pipeline.source_stats) {
      const pipeline::SourceStats source = pipeline.source_stats();
      freed_records_decoded_ += source.records_decoded;
      freed_records_skipped_ += source.records_skipped;
      freed_decode_nanoseconds_ += source.decode_nanoseconds;
    }
    freed_batches_produced_ += pipeline.prefetcher->batches_produced();
  }
  ITERD_LOG(INFO) << "iterator " << id << " (" << session->client()
                  << ") freed: " << reason;
  // Held slots first: the producer may be waiting for one of them. Then wakes
  // a Fetch blocked on it; the pipeline is destroyed with the last reference.
  session->Shutdown();
  session->pipeline().prefetcher->Cancel();
}

void IteratorRegistry::CancelAll() {
  absl::MutexLock lock(&mu_);
  for (auto& [id, session] : sessions_) {
    session->Shutdown();
    session->pipeline().prefetcher->Cancel();
  }
}

RegistryStats IteratorRegistry::stats() {
  absl::MutexLock lock(&mu_);
  RegistryStats stats = stats_;
  stats.open_iterators = static_cast<int64_t>(sessions_.size());
  return stats;
}

RegistrySnapshot IteratorRegistry::Snapshot() {
  RegistrySnapshot snapshot;
  std::vector<std::shared_ptr<IteratorSession>> sessions;
  absl::MutexLock totals_lock(&totals_mu_);
  {
    absl::MutexLock lock(&mu_);
    snapshot.stats = stats_;
    snapshot.stats.open_iterators = static_cast<int64_t>(sessions_.size());
    for (const auto& [id, session] : sessions_) sessions.push_back(session);
  }
  snapshot.records_decoded = freed_records_decoded_;
  snapshot.records_skipped = freed_records_skipped_;
  snapshot.decode_nanoseconds = freed_decode_nanoseconds_;
  snapshot.batches_produced = freed_batches_produced_;
  absl::flat_hash_set<std::string> clients;
  for (const std::shared_ptr<IteratorSession>& session : sessions) {
    const pipeline::OpenedPipeline& pipeline = session->pipeline();
    if (pipeline.source_stats) {
      const pipeline::SourceStats source = pipeline.source_stats();
      snapshot.records_decoded += source.records_decoded;
      snapshot.records_skipped += source.records_skipped;
      snapshot.decode_nanoseconds += source.decode_nanoseconds;
    }
    IteratorSnapshot iterator;
    iterator.id = session->id();
    iterator.pipeline_name = session->pipeline_name();
    iterator.client = session->client();
    iterator.queued_batches = session->QueuedBatches();
    iterator.batches_produced = pipeline.prefetcher->batches_produced();
    snapshot.batches_produced += iterator.batches_produced;
    clients.insert(iterator.client);
    snapshot.iterators.push_back(std::move(iterator));
  }
  snapshot.distinct_clients = static_cast<int64_t>(clients.size());
  return snapshot;
}

void IteratorRegistry::ReaperLoop() {
  // Checking four times per timeout bounds how long an idle iterator outlives
  // it.
  const absl::Duration period =
      std::min(absl::Seconds(1),
               std::max(absl::Milliseconds(50), options_.idle_timeout / 4));
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), period)) return;
    }
    ReapIdle();
  }
}

void IteratorRegistry::ReapIdle() {
  std::vector<std::string> idle;
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, session] : sessions_) {
      if (session->IdleSince(now, options_.idle_timeout)) idle.push_back(id);
    }
  }
  for (const std::string& id : idle) {
    Remove(id,
           absl::StrCat("no call for ",
                        absl::FormatDuration(options_.idle_timeout)),
           /*expired=*/true);
  }
}

}  // namespace iterd::service
