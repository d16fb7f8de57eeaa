#include "server/service/iterator_registry.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/security/secret_compare.h"

namespace iterd::service {
namespace {

// A handle is "ih-" and the hex of kHandleBytes random bytes: the first 8 are
// the selector (the map key), the other 16 (128 bits) the verifier.
constexpr absl::string_view kHandlePrefix = "ih-";
constexpr size_t kSelectorBytes = 8;
constexpr size_t kHandleBytes = kSelectorBytes + 16;
constexpr size_t kHandleLength = kHandlePrefix.size() + 2 * kHandleBytes;

// Fills `out` from the kernel's CSPRNG (getrandom(2); /dev/urandom through
// std::random_device if the syscall is missing, which throws on failure: the
// service turns that into INTERNAL).
void FillRandom(uint8_t* out, size_t size) {
  size_t filled = 0;
  while (filled < size) {
    const ssize_t got = getrandom(out + filled, size - filled, 0);
    if (got > 0) {
      filled += static_cast<size_t>(got);
    } else if (got < 0 && errno != EINTR) {
      break;
    }
  }
  if (filled == size) return;
  std::random_device urandom("/dev/urandom");
  for (; filled < size; ++filled) out[filled] = static_cast<uint8_t>(urandom());
}

std::string NewHandle(uint64_t* selector) {
  uint8_t bytes[kHandleBytes];
  FillRandom(bytes, sizeof(bytes));
  std::memcpy(selector, bytes, kSelectorBytes);
  return absl::StrCat(
      kHandlePrefix, absl::BytesToHexString(absl::string_view(
                         reinterpret_cast<const char*>(bytes), sizeof(bytes))));
}

// The selector of a well-formed handle; false for anything else.
bool HandleSelector(absl::string_view handle, uint64_t* selector) {
  if (handle.size() != kHandleLength ||
      !absl::StartsWith(handle, kHandlePrefix))
    return false;
  const absl::string_view hex = handle.substr(kHandlePrefix.size());
  for (char c : hex) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  const std::string bytes = absl::HexStringToBytes(hex);
  std::memcpy(selector, bytes.data(), kSelectorBytes);
  return true;
}

absl::Status UnknownIterator() {
  return absl::NotFoundError(
      "no such iterator: it was closed, or freed after its client went away "
      "or stayed idle too long (iterator_id must be the handle OpenIterator "
      "returned)");
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

bool IteratorSession::BeginStream(std::function<void()> cancel) {
  absl::MutexLock lock(&mu_);
  if (streaming_) return false;
  streaming_ = true;
  stream_waiting_ = false;
  cancel_stream_ = std::move(cancel);
  last_used_ = absl::Now();
  return true;
}

void IteratorSession::EndStream() {
  absl::MutexLock lock(&mu_);
  streaming_ = false;
  stream_waiting_ = false;
  cancel_stream_ = nullptr;
  last_used_ = absl::Now();
}

void IteratorSession::SetStreamWaiting(bool waiting) {
  absl::MutexLock lock(&mu_);
  stream_waiting_ = waiting;
  last_used_ = absl::Now();
}

void IteratorSession::CancelStream() {
  absl::MutexLock lock(&mu_);
  if (cancel_stream_) cancel_stream_();
}

void IteratorSession::Touch() {
  absl::MutexLock lock(&mu_);
  last_used_ = absl::Now();
}

bool IteratorSession::IdleSince(absl::Time now, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return !(streaming_ && stream_waiting_) && now - last_used_ >= timeout;
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

OpenCall::~OpenCall() { registry_->EndOpen(id_); }

bool OpenCall::timed_out() const { return registry_->OpenTimedOut(id_); }

absl::StatusOr<std::unique_ptr<OpenCall>> IteratorRegistry::BeginOpen(
    std::function<void()> cancel) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(opens_.size()) >= options_.max_concurrent_opens) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the daemon is already opening ", opens_.size(),
        " iterators (limits.max_concurrent_opens); retry in a moment"));
  }
  const int64_t id = next_open_id_++;
  opens_[id] = {absl::Now() + options_.open_timeout, std::move(cancel)};
  return std::make_unique<OpenCall>(this, id);
}

void IteratorRegistry::EndOpen(int64_t id) {
  absl::MutexLock lock(&mu_);
  opens_.erase(id);
}

bool IteratorRegistry::OpenTimedOut(int64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = opens_.find(id);
  return it != opens_.end() && it->second.timed_out;
}

void IteratorRegistry::CancelLateOpens(absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, open] : opens_) {
    if (open.timed_out || now < open.deadline) continue;
    open.timed_out = true;
    // Under mu_: the OpenCall (and the call it cancels) cannot end meanwhile.
    open.cancel();
  }
}

absl::Status IteratorRegistry::CheckInlineDeclaration(uint64_t bytes) const {
  if (bytes <= options_.max_inline_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the inline arrays declare ", bytes,
      " bytes, more than the daemon's whole upload budget of ",
      options_.max_inline_bytes, " bytes (limits.max_inline_bytes)"));
}

absl::Status IteratorRegistry::ReserveInlineBytes(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  // Written so that a huge `bytes` cannot wrap the sum around.
  if (bytes > options_.max_inline_bytes ||
      inline_bytes_reserved_ > options_.max_inline_bytes - bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "receiving ", bytes,
        " more bytes of inline arrays would exceed the daemon's budget of ",
        options_.max_inline_bytes, " bytes (limits.max_inline_bytes; ",
        inline_bytes_reserved_,
        " in use by open iterators and uploads); retry later"));
  }
  inline_bytes_reserved_ += bytes;
  return absl::OkStatus();
}

void IteratorRegistry::ReleaseInlineBytes(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  inline_bytes_reserved_ -= bytes;
}

absl::StatusOr<std::shared_ptr<IteratorSession>> IteratorRegistry::Add(
    std::unique_ptr<pipeline::Pipeline> pipeline, std::string client,
    std::string pipeline_name, uint64_t inline_bytes,
    SessionSharedMemory shared_memory) {
  uint64_t selector = 0;
  std::string handle = NewHandle(&selector);
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(sessions_.size()) >= options_.max_iterators) {
    inline_bytes_reserved_ -= inline_bytes;
    return absl::ResourceExhaustedError(
        "too many open iterators (limits.max_iterators)");
  }
  while (sessions_.contains(selector)) handle = NewHandle(&selector);
  auto session = std::make_shared<IteratorSession>(
      std::move(handle), absl::StrCat("it-", next_display_number_++),
      std::move(client), std::move(pipeline_name), std::move(pipeline),
      inline_bytes, std::move(shared_memory));
  sessions_[selector] = session;
  ++stats_.iterators_opened;
  return session;
}

// The map is keyed on the selector, the handle's first 64 random bits, so
// the hash lookup's timing can at most reveal something about those; the
// other 128 bits are then compared in constant time. Guessing a handle thus
// means guessing 128 bits even for a client that could time lookups exactly
// (network jitter hides far more than a hash probe anyway).
absl::StatusOr<std::shared_ptr<IteratorSession>> IteratorRegistry::Find(
    absl::string_view handle) {
  uint64_t selector = 0;
  if (!HandleSelector(handle, &selector)) return UnknownIterator();
  std::shared_ptr<IteratorSession> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(selector);
    if (it == sessions_.end() || !SecretEquals(it->second->handle(), handle)) {
      return UnknownIterator();
    }
    session = it->second;
  }
  session->Touch();
  return session;
}

void IteratorRegistry::Remove(absl::string_view handle,
                              absl::string_view reason, bool expired) {
  absl::StatusOr<std::shared_ptr<IteratorSession>> session = Find(handle);
  if (session.ok()) Remove(**session, reason, expired);
}

void IteratorRegistry::Remove(const IteratorSession& session,
                              absl::string_view reason, bool expired) {
  uint64_t selector = 0;
  if (HandleSelector(session.handle(), &selector)) {
    RemoveSelector(selector, &session, reason, expired);
  }
}

void IteratorRegistry::RemoveSelector(uint64_t selector,
                                      const IteratorSession* expected,
                                      absl::string_view reason, bool expired) {
  std::shared_ptr<IteratorSession> session;
  {
    absl::MutexLock totals_lock(&totals_mu_);
    {
      absl::MutexLock lock(&mu_);
      auto it = sessions_.find(selector);
      if (it == sessions_.end()) return;
      if (expected != nullptr && it->second.get() != expected) return;
      session = std::move(it->second);
      sessions_.erase(it);
      inline_bytes_reserved_ -= session->inline_bytes();
      if (expired) ++stats_.iterators_expired;
    }
    // Outside mu_: Find() need not wait for the source's and prefetcher's
    // locks.
    pipeline::Pipeline& pipeline = session->pipeline();
    const pipeline::SourceStats source = pipeline.source_stats();
    freed_records_decoded_ += source.records_decoded;
    freed_records_skipped_ += source.records_skipped;
    freed_decode_nanoseconds_ += source.decode_nanoseconds;
    freed_batches_produced_ += pipeline.batches_produced();
  }
  ITERD_LOG(INFO) << "iterator " << session->display_id() << " ("
                  << session->client() << ") freed: " << reason;
  // Held slots first: the producer may be waiting for one of them. Then wakes
  // a Fetch blocked on it; the pipeline is destroyed with the last reference.
  session->Shutdown();
  session->pipeline().Cancel();
}

void IteratorRegistry::CancelAll() {
  absl::MutexLock lock(&mu_);
  for (auto& [selector, session] : sessions_) {
    session->Shutdown();
    session->pipeline().Cancel();
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
    for (const auto& [selector, session] : sessions_) {
      sessions.push_back(session);
    }
  }
  snapshot.records_decoded = freed_records_decoded_;
  snapshot.records_skipped = freed_records_skipped_;
  snapshot.decode_nanoseconds = freed_decode_nanoseconds_;
  snapshot.batches_produced = freed_batches_produced_;
  absl::flat_hash_set<std::string> clients;
  for (const std::shared_ptr<IteratorSession>& session : sessions) {
    pipeline::Pipeline& pipeline = session->pipeline();
    const pipeline::SourceStats source = pipeline.source_stats();
    snapshot.records_decoded += source.records_decoded;
    snapshot.records_skipped += source.records_skipped;
    snapshot.decode_nanoseconds += source.decode_nanoseconds;
    IteratorSnapshot iterator;
    iterator.display_id = session->display_id();
    iterator.pipeline_name = session->pipeline_name();
    iterator.client = session->client();
    iterator.queued_batches = pipeline.queued_batches();
    iterator.batches_produced = pipeline.batches_produced();
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
  const absl::Duration period = std::min(
      absl::Seconds(1),
      std::max(absl::Milliseconds(50),
               std::min(options_.idle_timeout, options_.open_timeout) / 4));
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), period)) return;
    }
    ReapIdle();
  }
}

void IteratorRegistry::ReapIdle() {
  std::vector<std::shared_ptr<IteratorSession>> idle;
  const absl::Time now = absl::Now();
  CancelLateOpens(now);
  {
    absl::MutexLock lock(&mu_);
    for (auto& [selector, session] : sessions_) {
      if (session->IdleSince(now, options_.idle_timeout)) {
        idle.push_back(session);
      }
    }
  }
  for (const std::shared_ptr<IteratorSession>& session : idle) {
    // A stream blocked on a client that stopped reading returns at once.
    session->CancelStream();
    Remove(*session,
           absl::StrCat("no call or stream progress for ",
                        absl::FormatDuration(options_.idle_timeout)),
           /*expired=*/true);
  }
}

}  // namespace iterd::service
