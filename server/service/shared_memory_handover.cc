#include "server/service/shared_memory_handover.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/security/secret_compare.h"

namespace iterd::service {
namespace {

constexpr int kListenBacklog = 64;
// After accept() fails for want of descriptors or memory, the listening socket
// stays readable: pause accepting this long instead of spinning on it.
constexpr absl::Duration kAcceptBackoff = absl::Milliseconds(100);

absl::Status SystemError(absl::string_view call, int error) {
  return absl::InternalError(absl::StrCat("shared memory hand-over: ", call,
                                          " failed: ", std::strerror(error)));
}

// Sends one byte with `fd` attached. Never blocks (the peer's socket buffer
// is empty: it only wrote its token) and never raises SIGPIPE.
bool SendDescriptor(int socket_fd, int fd) {
  char byte = 1;
  iovec data = {&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message = {};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  cmsghdr* rights = CMSG_FIRSTHDR(&message);
  rights->cmsg_level = SOL_SOCKET;
  rights->cmsg_type = SCM_RIGHTS;
  rights->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(rights), &fd, sizeof(int));
  return sendmsg(socket_fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL) == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SharedMemoryHandover>>
SharedMemoryHandover::Start(HandoverOptions options) {
  absl::StatusOr<std::string> random = RandomSecret(16);
  if (!random.ok()) return random.status();
  const std::string name =
      absl::StrCat("iterd-", getpid(), "-", absl::BytesToHexString(*random));
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  // Abstract namespace: sun_path starts with NUL, the name is not terminated.
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  const socklen_t address_size =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  const int listen_fd =
      socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) return SystemError("socket", errno);
  if (bind(listen_fd, reinterpret_cast<const sockaddr*>(&address),
           address_size) != 0 ||
      listen(listen_fd, kListenBacklog) != 0) {
    const int error = errno;
    close(listen_fd);
    return SystemError("bind/listen", error);
  }
  const int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int error = errno;
    close(listen_fd);
    return SystemError("eventfd", error);
  }
  return std::unique_ptr<SharedMemoryHandover>(new SharedMemoryHandover(
      options, listen_fd, wake_fd, absl::StrCat("@", name)));
}

SharedMemoryHandover::SharedMemoryHandover(HandoverOptions options,
                                           int listen_fd, int wake_fd,
                                           std::string socket_name)
    : options_(options),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      socket_name_(std::move(socket_name)),
      thread_([this] { Run(); }) {}

SharedMemoryHandover::~SharedMemoryHandover() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = write(wake_fd_, &one, sizeof(one));
  thread_.join();
  close(listen_fd_);
  close(wake_fd_);
}

void SharedMemoryHandover::Offer(
    const std::shared_ptr<SharedMemoryRegion>& region) {
  absl::MutexLock lock(&mu_);
  // Regions that died unclaimed leave their offers behind: drop those.
  offers_.erase(std::remove_if(offers_.begin(), offers_.end(),
                               [](const Offered& offered) {
                                 return offered.region.expired();
                               }),
                offers_.end());
  offers_.push_back({region->token(), region});
}

std::shared_ptr<SharedMemoryRegion> SharedMemoryHandover::Claim(
    const std::string& token) {
  absl::MutexLock lock(&mu_);
  // Every offer is compared, so the time taken does not tell which matched.
  auto found = offers_.end();
  for (auto it = offers_.begin(); it != offers_.end(); ++it) {
    if (SecretEquals(it->token, token)) found = it;
  }
  if (found == offers_.end()) return nullptr;
  std::shared_ptr<SharedMemoryRegion> region = found->region.lock();
  offers_.erase(found);
  return region;
}

void SharedMemoryHandover::Run() {
  std::vector<Peer> peers;
  std::vector<pollfd> polled;
  absl::Time accept_again = absl::InfinitePast();
  while (true) {
    const bool accepting =
        static_cast<int>(peers.size()) < options_.max_waiting_peers &&
        absl::Now() >= accept_again;
    polled.clear();
    polled.push_back({wake_fd_, POLLIN, 0});
    polled.push_back({accepting ? listen_fd_ : -1, POLLIN, 0});
    absl::Time next_deadline =
        accept_again > absl::Now() ? accept_again : absl::InfiniteFuture();
    for (const Peer& peer : peers) {
      polled.push_back({peer.fd, POLLIN, 0});
      next_deadline = std::min(next_deadline, peer.deadline);
    }
    const int timeout_ms =
        next_deadline == absl::InfiniteFuture()
            ? -1
            : static_cast<int>(std::max<int64_t>(
                  0, absl::ToInt64Milliseconds(absl::Ceil(
                         next_deadline - absl::Now(), absl::Milliseconds(1)))));
    if (poll(polled.data(), polled.size(), timeout_ms) < 0) {
      // EINTR, or ENOMEM (transient): try again, without spinning.
      if (errno != EINTR) absl::SleepFor(kAcceptBackoff);
      continue;
    }
    if (polled[0].revents != 0) break;  // Stopping.
    ServePeers(polled.data() + 2, &peers);
    if (polled[1].revents != 0 && !AcceptPeers(&peers)) {
      accept_again = absl::Now() + kAcceptBackoff;
    }
  }
  for (const Peer& peer : peers) close(peer.fd);
}

bool SharedMemoryHandover::AcceptPeers(std::vector<Peer>* peers) {
  while (static_cast<int>(peers->size()) < options_.max_waiting_peers) {
    const int fd =
        accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {  // EAGAIN: none left; ECONNABORTED and the like: next round.
      return errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
             errno != ENOMEM;
    }
    peers->push_back({fd, absl::Now() + options_.peer_deadline, ""});
  }
  return true;
}

void SharedMemoryHandover::ServePeers(const pollfd* ready,
                                      std::vector<Peer>* peers) {
  std::vector<Peer> still_waiting;
  const absl::Time now = absl::Now();
  for (size_t i = 0; i < peers->size(); ++i) {
    Peer& peer = (*peers)[i];
    bool done = ready[i].revents != 0 && Serve(&peer);
    if (!done && now >= peer.deadline) {
      refused_.fetch_add(1);
      done = true;
    }
    if (done) {
      close(peer.fd);
    } else {
      still_waiting.push_back(std::move(peer));
    }
  }
  *peers = std::move(still_waiting);
}

bool SharedMemoryHandover::Serve(Peer* peer) {
  char buffer[SharedMemoryRegion::kTokenBytes];
  const size_t wanted = sizeof(buffer) - peer->received.size();
  const ssize_t got = recv(peer->fd, buffer, wanted, MSG_DONTWAIT);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  if (got <= 0) {  // Closed before the whole token, or an error.
    refused_.fetch_add(1);
    return true;
  }
  peer->received.append(buffer, static_cast<size_t>(got));
  if (peer->received.size() < SharedMemoryRegion::kTokenBytes) return false;
  const std::shared_ptr<SharedMemoryRegion> region = Claim(peer->received);
  if (region != nullptr && SendDescriptor(peer->fd, region->read_only_fd())) {
    handed_over_.fetch_add(1);
  } else {
    refused_.fetch_add(1);
  }
  return true;
}

}  // namespace iterd::service
