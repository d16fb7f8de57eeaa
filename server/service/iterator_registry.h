// File: server/service/iterator_registry.h
//
// IteratorRegistry: the daemon's open iterators, each a lease. A lease ends
// when the client closes it, when its Fetch stream is cancelled (the client
// went away), or when it has seen no call for the idle timeout (a reaper thread
// checks); its pipeline is then cancelled and freed as soon as the last
// in-flight call lets go of it. Also enforces max_iterators and the budget for
// arrays uploaded by clients.
//
// Also the source of the per-iterator and cumulative figures of /metrics:
// counters of freed iterators are folded into running totals when they go
// away, so that totals never decrease.
//
// Handles: an iterator is named by two ids. Its handle (what OpenIterator
// returns as `iterator_id`) is a secret capability: "ih-" then 192 random bits
// from getrandom(2) in hex, returned only to the opener, never logged nor
// exported. Whoever holds it may fetch, reset and close the iterator. Its
// display id ("it-17", a counter) names it in logs, /metrics and messages.
//
// Thread-safe. The destructor stops the reaper and cancels every iterator.

#ifndef ITERD_SERVER_SERVICE_ITERATOR_REGISTRY_H_
#define ITERD_SERVER_SERVICE_ITERATOR_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/tensor/batch.h"
#include "server/pipeline/pipeline.h"
#include "server/service/shared_memory_pool.h"
#include "server/service/shared_memory_region.h"

namespace iterd::service {

// One open iterator. The pipeline is immutable after creation; `mu_` guards the
// lease state.
class IteratorSession final {
 public:
  IteratorSession(std::string handle, std::string display_id,
                  std::string client, std::string pipeline_name,
                  std::unique_ptr<pipeline::Pipeline> pipeline,
                  uint64_t inline_bytes, SessionSharedMemory shared_memory = {})
      : handle_(std::move(handle)),
        display_id_(std::move(display_id)),
        client_(std::move(client)),
        pipeline_name_(std::move(pipeline_name)),
        pipeline_(std::move(pipeline)),
        inline_bytes_(inline_bytes),
        shared_memory_(std::move(shared_memory)) {}
  // Releases the held batches and wakes a producer waiting for a region
  // buffer before the pipeline (whose destructor waits for it) goes.
  ~IteratorSession();

  // The secret the opener uses to name this iterator: only for the
  // OpenIterator response. Never log or export it; use display_id().
  const std::string& handle() const { return handle_; }
  // "it-17": for logs, metrics and messages.
  const std::string& display_id() const { return display_id_; }
  // The client's description, escaped and length-limited (safe to log).
  const std::string& client() const { return client_; }
  // The named pipeline it was opened from, or "inline".
  const std::string& pipeline_name() const { return pipeline_name_; }
  pipeline::Pipeline& pipeline() { return *pipeline_; }
  uint64_t inline_bytes() const { return inline_bytes_; }
  // The same-host region the client asked for at open, or null. Its slots are
  // the pipeline's payload buffers; freed once the session and every batch
  // in it are gone.
  SharedMemoryRegion* shared_memory() const {
    return shared_memory_.region.get();
  }
  // The region slot holding `batch`'s payload, or -1 when the payload is not
  // in the region (no region, or a heap buffer made during shutdown).
  int64_t SlotOf(const Batch& batch) const;

  // Batches whose slots the client may still be reading: those sent in the
  // last shared-memory Fetch window. Held until the client's next Fetch, Reset
  // or Close, because the pipeline would otherwise rewrite their slots. They
  // must be released before anything waits on the producer (which may be
  // waiting for one of these buffers).
  void HoldBatch(std::shared_ptr<const Batch> batch) ABSL_LOCKS_EXCLUDED(mu_);
  void ReleaseHeldBatches() ABSL_LOCKS_EXCLUDED(mu_);
  // Lease ended: releases the held batches and makes a producer waiting for a
  // region buffer take a heap buffer instead (it is about to be cancelled).
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // Marks a Fetch stream as running; false if one already is (one stream per
  // iterator at a time). `cancel` ends the stream's call (it must not block);
  // the reaper calls it when the stream is idle too long.
  bool BeginStream(std::function<void()> cancel = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  void EndStream() ABSL_LOCKS_EXCLUDED(mu_);
  // A running stream waits for the pipeline (the daemon's doing, so the lease
  // is not idle meanwhile), or stopped waiting.
  void SetStreamWaiting(bool waiting) ABSL_LOCKS_EXCLUDED(mu_);
  // Progress: a call, or a batch written to the stream.
  void Touch() ABSL_LOCKS_EXCLUDED(mu_);
  // Nothing happened for at least `timeout` at `now`. A running stream counts
  // as activity only while it waits for the pipeline: one blocked writing to
  // a client that does not read is idle.
  bool IdleSince(absl::Time now, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels the running stream, if any (the reaper, before freeing it).
  void CancelStream() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string handle_;
  const std::string display_id_;
  const std::string client_;
  const std::string pipeline_name_;
  const std::unique_ptr<pipeline::Pipeline> pipeline_;
  const uint64_t inline_bytes_;
  const SessionSharedMemory shared_memory_;

  absl::Mutex mu_;
  // Declared after pipeline_: destroyed before it.
  std::vector<std::shared_ptr<const Batch>> held_ ABSL_GUARDED_BY(mu_);
  absl::Time last_used_ ABSL_GUARDED_BY(mu_) = absl::Now();
  bool streaming_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_waiting_ ABSL_GUARDED_BY(mu_) = false;
  // Ends the running stream's call; called under mu_, so EndStream() (which
  // clears it) cannot return, and the call go away, meanwhile.
  std::function<void()> cancel_stream_ ABSL_GUARDED_BY(mu_);
};

struct RegistryOptions {
  int max_iterators = 64;
  absl::Duration idle_timeout = absl::Seconds(300);
  uint64_t max_inline_bytes = 8ull << 30;
  absl::Duration open_timeout = absl::Seconds(60);
  int max_concurrent_opens = 16;
};

class IteratorRegistry;

// An OpenIterator call in progress (IteratorRegistry::BeginOpen): counts
// against max_concurrent_opens until destroyed, and past its deadline the
// reaper calls its `cancel` once (under the registry's lock, so never after
// the OpenCall is gone).
class OpenCall final {
 public:
  OpenCall(IteratorRegistry* registry, int64_t id)
      : registry_(registry), id_(id) {}
  OpenCall(const OpenCall&) = delete;
  OpenCall& operator=(const OpenCall&) = delete;
  ~OpenCall();
  // Whether the deadline passed (and `cancel` ran).
  bool timed_out() const;

 private:
  IteratorRegistry* const registry_;
  const int64_t id_;
};

struct RegistryStats {
  int64_t open_iterators = 0;
  int64_t iterators_opened = 0;
  int64_t iterators_expired = 0;
};

// One open iterator, as /metrics shows it.
struct IteratorSnapshot {
  std::string display_id;  // Never the handle.
  std::string pipeline_name;
  std::string client;
  int64_t queued_batches = 0;
  int64_t batches_produced = 0;
};

struct RegistrySnapshot {
  RegistryStats stats;
  // Since start-up, over open and freed iterators alike.
  int64_t records_decoded = 0;
  int64_t records_skipped = 0;
  int64_t decode_nanoseconds = 0;
  int64_t batches_produced = 0;
  int64_t distinct_clients = 0;  // Among the open iterators.
  std::vector<IteratorSnapshot> iterators;
};

class IteratorRegistry final {
 public:
  explicit IteratorRegistry(const RegistryOptions& options);
  IteratorRegistry(const IteratorRegistry&) = delete;
  IteratorRegistry& operator=(const IteratorRegistry&) = delete;
  ~IteratorRegistry();

  // ResourceExhausted when max_iterators are open (checked again by Add()).
  absl::Status CheckCapacity() ABSL_LOCKS_EXCLUDED(mu_);

  // Registers an OpenIterator call that must finish within open_timeout;
  // ResourceExhausted when max_concurrent_opens are in progress. Past the
  // deadline the reaper calls `cancel` (which must not block nor call back
  // into the registry).
  absl::StatusOr<std::unique_ptr<OpenCall>> BeginOpen(
      std::function<void()> cancel) ABSL_LOCKS_EXCLUDED(mu_);

  // ResourceExhausted when uploads declaring `bytes` in all could never fit
  // the budget (checked before anything is received).
  absl::Status CheckInlineDeclaration(uint64_t bytes) const;
  // Reserves bytes of the upload budget as they arrive; ResourceExhausted
  // naming the limit when it is spent.
  absl::Status ReserveInlineBytes(uint64_t bytes) ABSL_LOCKS_EXCLUDED(mu_);
  void ReleaseInlineBytes(uint64_t bytes) ABSL_LOCKS_EXCLUDED(mu_);

  // Registers an opened pipeline under a new random handle. Takes over
  // `inline_bytes` of reserved budget (released when the iterator goes away)
  // and `shared_memory` (may be empty).
  absl::StatusOr<std::shared_ptr<IteratorSession>> Add(
      std::unique_ptr<pipeline::Pipeline> pipeline, std::string client,
      std::string pipeline_name, uint64_t inline_bytes,
      SessionSharedMemory shared_memory = {}) ABSL_LOCKS_EXCLUDED(mu_);

  // The iterator whose handle is `handle`. NotFound (saying it may have
  // expired, never echoing the handle) for anything else, malformed or not.
  // Touches the lease.
  absl::StatusOr<std::shared_ptr<IteratorSession>> Find(
      absl::string_view handle) ABSL_LOCKS_EXCLUDED(mu_);

  // Ends the lease of the iterator named by `handle` (a client's Close);
  // unknown handles are OK. `expired` counts it as freed because the client
  // went away.
  void Remove(absl::string_view handle, absl::string_view reason, bool expired)
      ABSL_LOCKS_EXCLUDED(totals_mu_, mu_);
  // Ends `session`'s lease if it is still registered.
  void Remove(const IteratorSession& session, absl::string_view reason,
              bool expired) ABSL_LOCKS_EXCLUDED(totals_mu_, mu_);

  // Cancels every iterator (daemon shutdown): blocked Fetch calls return at
  // once.
  void CancelAll() ABSL_LOCKS_EXCLUDED(mu_);

  RegistryStats stats() ABSL_LOCKS_EXCLUDED(mu_);

  // Everything /metrics reports about iterators. Reads every open iterator's
  // counters (their own locks), so it is meant for a scrape, not a hot path.
  RegistrySnapshot Snapshot() ABSL_LOCKS_EXCLUDED(totals_mu_, mu_);

 private:
  friend class OpenCall;
  struct OpenEntry {
    absl::Time deadline;
    std::function<void()> cancel;
    bool timed_out = false;
  };
  void EndOpen(int64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  bool OpenTimedOut(int64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  void CancelLateOpens(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // Removes the session registered under `selector` if it is `expected`
  // (or any session there when `expected` is null).
  void RemoveSelector(uint64_t selector, const IteratorSession* expected,
                      absl::string_view reason, bool expired)
      ABSL_LOCKS_EXCLUDED(totals_mu_, mu_);
  void ReaperLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void ReapIdle() ABSL_LOCKS_EXCLUDED(mu_);

  const RegistryOptions options_;

  // Held by Remove() and Snapshot() (before mu_) so that a scrape never sees
  // an iterator neither open nor folded into the totals, nor both: cumulative
  // counters stay monotonic. Only removals and scrapes take it.
  absl::Mutex totals_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  int64_t freed_records_decoded_ ABSL_GUARDED_BY(totals_mu_) = 0;
  int64_t freed_records_skipped_ ABSL_GUARDED_BY(totals_mu_) = 0;
  int64_t freed_decode_nanoseconds_ ABSL_GUARDED_BY(totals_mu_) = 0;
  int64_t freed_batches_produced_ ABSL_GUARDED_BY(totals_mu_) = 0;

  absl::Mutex mu_;
  // Keyed on the handle's first 64 random bits (its selector); the full
  // handle is then compared in constant time (see Find()).
  absl::flat_hash_map<uint64_t, std::shared_ptr<IteratorSession>> sessions_
      ABSL_GUARDED_BY(mu_);
  int64_t next_display_number_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<int64_t, OpenEntry> opens_ ABSL_GUARDED_BY(mu_);
  int64_t next_open_id_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t inline_bytes_reserved_ ABSL_GUARDED_BY(mu_) = 0;
  RegistryStats stats_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Declared last: started after every member above is initialised.
  std::thread reaper_;
};

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_ITERATOR_REGISTRY_H_
