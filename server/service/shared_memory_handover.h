// File: server/service/shared_memory_handover.h
//
// SharedMemoryHandover: hands each iterator's shared-memory region to the
// client that opened the iterator, and to nobody else.
//
// The daemon listens on an abstract-namespace Unix socket (socket_name(),
// "@iterd-<pid>-<random hex>"; nothing on disk, gone with the daemon). After
// OpenIterator the client connects and sends the region's 16-byte token, which
// only the OpenIteratorResponse carried; the daemon answers with one byte and
// the region's read-only descriptor (SCM_RIGHTS) and closes the connection. A
// token is good for one hand-over; a wrong or short token, or silence past
// the deadline, just closes the connection. SCM_RIGHTS works across uids, so
// a client of another user can use the region without any file permission.
//
// Hostile peers: tokens are compared in constant time against every offer;
// at most kTokenBytes are read per connection (non-blocking); each connection
// has `peer_deadline`; one thread serves all connections with poll() and keeps
// at most `max_waiting_peers` of them (further ones wait in the kernel's
// listen backlog). A peer can slow hand-overs down, never make the daemon
// block or grow; a client whose hand-over fails falls back to the byte stream.
//
// Thread-safe. Ownership: Offer() keeps only a weak reference, so an offer
// never prolongs a region; the destructor stops the thread and closes every
// socket.

#ifndef ITERD_SERVER_SERVICE_SHARED_MEMORY_HANDOVER_H_
#define ITERD_SERVER_SERVICE_SHARED_MEMORY_HANDOVER_H_

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/service/shared_memory_region.h"

namespace iterd::service {

struct HandoverOptions {
  // How long a connection may take to send its token.
  absl::Duration peer_deadline = absl::Seconds(1);
  // Most connections waiting for their token at once.
  int max_waiting_peers = 16;
};

class SharedMemoryHandover final {
 public:
  // Binds a fresh abstract socket name and starts serving it. Internal (naming
  // the system call) when the socket cannot be made.
  static absl::StatusOr<std::unique_ptr<SharedMemoryHandover>> Start(
      HandoverOptions options = {});

  SharedMemoryHandover(const SharedMemoryHandover&) = delete;
  SharedMemoryHandover& operator=(const SharedMemoryHandover&) = delete;
  ~SharedMemoryHandover();

  // "@name": the abstract socket name, '@' standing for the leading NUL byte.
  const std::string& socket_name() const { return socket_name_; }

  // Lets one connection that sends region->token() receive the region's
  // read-only descriptor, while the region lives.
  void Offer(const std::shared_ptr<SharedMemoryRegion>& region)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Descriptors handed over, and connections closed without one.
  int64_t handed_over() const { return handed_over_.load(); }
  int64_t refused() const { return refused_.load(); }

 private:
  struct Offered {
    std::string token;
    std::weak_ptr<SharedMemoryRegion> region;
  };
  struct Peer {
    int fd;
    absl::Time deadline;
    std::string received;
  };

  SharedMemoryHandover(HandoverOptions options, int listen_fd, int wake_fd,
                       std::string socket_name);
  void Run();
  // Accepts waiting connections up to the bound; false when out of
  // descriptors or memory (the caller pauses accepting).
  bool AcceptPeers(std::vector<Peer>* peers);
  // Serves the peers `ready` (their poll results, in order) says have input,
  // and closes those done with or past their deadline.
  void ServePeers(const pollfd* ready, std::vector<Peer>* peers);
  // Reads what `peer` sent; true when it is done with (hand-over or refusal).
  bool Serve(Peer* peer);
  // The live region offered under `token` (the offer is used up), or null.
  std::shared_ptr<SharedMemoryRegion> Claim(const std::string& token)
      ABSL_LOCKS_EXCLUDED(mu_);

  const HandoverOptions options_;
  const int listen_fd_;
  const int wake_fd_;  // An eventfd: written once to stop Run().
  const std::string socket_name_;
  absl::Mutex mu_;
  std::vector<Offered> offers_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> handed_over_{0};
  std::atomic<int64_t> refused_{0};
  std::thread thread_;
};

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_SHARED_MEMORY_HANDOVER_H_
