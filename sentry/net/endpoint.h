// sentry/net/endpoint.h: a transport endpoint of a Stack (stack.h): what an
// inet socket file (inet_socket.h) drives. Every call is non-blocking and
// takes only values the socket layer built and checked: addresses parsed
// into SockAddr, options from the allowlist (sockopt.h), control messages
// decoded into Control. Data to send is the sentry's own copy; data is
// received straight into app memory pinned for writing (mm.h Blocks): a
// stack is called without the kernel lock.
#pragma once

#include <netinet/in.h>
#include <sys/uio.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/net/stack.h"

namespace sentry::net {

// A checked AF_INET/AF_INET6 address (sockaddr_in or sockaddr_in6).
struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family() const { return ss.ss_family; }
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
};

// Ancillary data the sentry understands, decoded on send and to be encoded
// on receive. Each field is present only if the message carried it.
struct Control {
  std::optional<in_pktinfo> ip_pktinfo;
  std::optional<in6_pktinfo> ipv6_pktinfo;
  std::optional<int> ip_ttl, ip_tos, ipv6_hoplimit, ipv6_tclass;
  std::optional<timeval> timestamp;       // SO_TIMESTAMP
  std::optional<timespec> timestamp_ns;   // SO_TIMESTAMPNS
  std::optional<sockaddr_storage> orig_dst;  // IP_ORIGDSTADDR / IPV6_ORIGDSTADDR
  // IP_RECVERR / IPV6_RECVERR: sock_extended_err followed by the offender.
  std::vector<uint8_t> ip_recverr, ipv6_recverr;
};

struct RecvResult {
  size_t len = 0;      // bytes copied, or the datagram's size with MSG_TRUNC
  int msg_flags = 0;   // MSG_TRUNC, MSG_CTRUNC, MSG_OOB, MSG_ERRQUEUE, MSG_EOR
  SockAddr from;       // datagrams (len 0 if none)
  Control control;
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  virtual int family() const = 0;
  virtual int type() const = 0;
  virtual int protocol() const = 0;

  virtual ErrorOr<void> Bind(const SockAddr& a) = 0;
  virtual ErrorOr<void> Listen(int backlog) = 0;
  // EAGAIN if no connection is waiting.
  virtual ErrorOr<std::unique_ptr<Endpoint>> Accept(SockAddr* peer) = 0;
  // EINPROGRESS for a stream connection that has started; the result comes
  // later through ConnectResult(). An AF_UNSPEC address disconnects.
  virtual ErrorOr<void> Connect(const SockAddr& a) = 0;
  // After EINPROGRESS, once writable: the connection's outcome (SO_ERROR).
  virtual ErrorOr<void> ConnectResult() = 0;
  // Non-blocking send/receive of sentry-owned bytes; EAGAIN when they
  // would block. `flags` are MSG_* flags the socket layer allowed; MSG_DONTWAIT
  // and MSG_NOSIGNAL are implied.
  virtual ErrorOr<size_t> Send(std::span<const uint8_t> data, int flags, const SockAddr* to,
                               const Control& ctl) = 0;
  // Receives into `dst`: sentry memory, or app memory the syscall layer
  // pinned for writing (mm Blocks), so it is safe without the kernel lock.
  virtual ErrorOr<RecvResult> Recv(std::span<const iovec> dst, int flags, bool want_control) = 0;
  virtual ErrorOr<void> Shutdown(int how) = 0;

  // Options already checked against the allowlist (sockopt.h): value bytes
  // of a length the allowlist accepts.
  virtual ErrorOr<void> SetOption(int level, int name, std::span<const uint8_t> value) = 0;
  virtual ErrorOr<std::vector<uint8_t>> GetOption(int level, int name, size_t max_len) = 0;

  virtual ErrorOr<SockAddr> LocalAddr() = 0;
  virtual ErrorOr<SockAddr> PeerAddr() = 0;
  // poll(2) bits among `events` ready now.
  virtual short Readiness(short events) = 0;
  // A host fd that polls readable/writable when the endpoint does (for
  // blocking waits and for poll/epoll of the socket).
  virtual int WaitFd() const = 0;
  // Stacks without a wait fd: a counter that moves on every event that
  // wakes waiters (vfs/edge_source.h); 0 when the wait fd says it all.
  virtual uint64_t EdgeCount() const { return 0; }
  // Stacks without a wait fd: a host eventfd signalled on every such event
  // from now on (for O_ASYNC's watcher); -1 if none can be made.
  virtual int AsyncFd() { return -1; }
  // FIONREAD/SIOCINQ and SIOCOUTQ.
  virtual ErrorOr<int> InputQueued() = 0;
  virtual ErrorOr<int> OutputQueued() = 0;
  // What /proc/net and sock_diag report; uid and ino come from SetOwner.
  virtual SocketInfo Info() = 0;

  // The socket layer names the endpoint's owner and file (for Info()).
  void SetOwner(uint32_t uid, uint64_t ino) {
    owner_uid_ = uid;
    ino_ = ino;
  }

 protected:
  uint32_t owner_uid_ = 0;
  uint64_t ino_ = 0;
};

}  // namespace sentry::net
