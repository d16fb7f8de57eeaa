// File: server/service/iterator_registry.h
//
// IteratorRegistry: the daemon's open iterators, each a lease. A lease ends
// when the client closes it, when its Fetch stream is cancelled (the client
// went away), or when it has seen no call for the idle timeout (a reaper thread
// checks); its pipeline is then cancelled and freed as soon as the last
// in-flight call lets go of it. Also enforces max_iterators and the budget for
// arrays uploaded by clients.
//
// Thread-safe. The destructor stops the reaper and cancels every iterator.

#ifndef ITERD_SERVER_SERVICE_ITERATOR_REGISTRY_H_
#define ITERD_SERVER_SERVICE_ITERATOR_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/pipeline/pipeline_factory.h"

namespace iterd::service {

// One open iterator. The pipeline is immutable after creation; `mu_` guards the
// lease state.
class IteratorSession final {
 public:
  IteratorSession(std::string id, std::string client,
                  pipeline::OpenedPipeline pipeline, uint64_t inline_bytes)
      : id_(std::move(id)),
        client_(std::move(client)),
        pipeline_(std::move(pipeline)),
        inline_bytes_(inline_bytes) {}

  const std::string& id() const { return id_; }
  const std::string& client() const { return client_; }
  pipeline::OpenedPipeline& pipeline() { return pipeline_; }
  uint64_t inline_bytes() const { return inline_bytes_; }

  // Marks a Fetch stream as running; false if one already is (one stream per
  // iterator at a time).
  bool BeginStream() ABSL_LOCKS_EXCLUDED(mu_);
  void EndStream() ABSL_LOCKS_EXCLUDED(mu_);
  void Touch() ABSL_LOCKS_EXCLUDED(mu_);
  // Idle for at least `timeout` at `now`, with no stream running.
  bool IdleSince(absl::Time now, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string id_;
  const std::string client_;
  pipeline::OpenedPipeline pipeline_;
  const uint64_t inline_bytes_;

  absl::Mutex mu_;
  absl::Time last_used_ ABSL_GUARDED_BY(mu_) = absl::Now();
  bool streaming_ ABSL_GUARDED_BY(mu_) = false;
};

struct RegistryOptions {
  int max_iterators = 64;
  absl::Duration idle_timeout = absl::Seconds(300);
  uint64_t max_inline_bytes = 8ull << 30;
};

struct RegistryStats {
  int64_t open_iterators = 0;
  int64_t iterators_opened = 0;
  int64_t iterators_expired = 0;
};

class IteratorRegistry final {
 public:
  explicit IteratorRegistry(const RegistryOptions& options);
  IteratorRegistry(const IteratorRegistry&) = delete;
  IteratorRegistry& operator=(const IteratorRegistry&) = delete;
  ~IteratorRegistry();

  // ResourceExhausted when max_iterators are open (checked again by Add()).
  absl::Status CheckCapacity() ABSL_LOCKS_EXCLUDED(mu_);

  // Reserves bytes of the upload budget; ResourceExhausted naming the limit
  // when it is spent.
  absl::Status ReserveInlineBytes(uint64_t bytes) ABSL_LOCKS_EXCLUDED(mu_);
  void ReleaseInlineBytes(uint64_t bytes) ABSL_LOCKS_EXCLUDED(mu_);

  // Registers an opened pipeline under a new random id. Takes over
  // `inline_bytes` of reserved budget (released when the iterator goes away).
  absl::StatusOr<std::shared_ptr<IteratorSession>> Add(
      pipeline::OpenedPipeline pipeline, std::string client,
      uint64_t inline_bytes) ABSL_LOCKS_EXCLUDED(mu_);

  // NotFound (saying it may have expired) for an unknown id. Touches the lease.
  absl::StatusOr<std::shared_ptr<IteratorSession>> Find(const std::string& id)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Ends a lease; `expired` counts it as freed because the client went away.
  // Unknown ids are OK.
  void Remove(const std::string& id, absl::string_view reason, bool expired)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Cancels every iterator (daemon shutdown): blocked Fetch calls return at
  // once.
  void CancelAll() ABSL_LOCKS_EXCLUDED(mu_);

  RegistryStats stats() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void ReaperLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void ReapIdle() ABSL_LOCKS_EXCLUDED(mu_);

  const RegistryOptions options_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<IteratorSession>> sessions_
      ABSL_GUARDED_BY(mu_);
  uint64_t inline_bytes_reserved_ ABSL_GUARDED_BY(mu_) = 0;
  RegistryStats stats_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Declared last: started after every member above is initialised.
  std::thread reaper_;
};

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_ITERATOR_REGISTRY_H_
