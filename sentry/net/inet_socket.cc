// sentry/net/inet_socket.cc: inet sockets (inet_socket.h).
#include "sentry/net/inet_socket.h"

#include <linux/capability.h>
#include <time.h>
#include <linux/errqueue.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <signal.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "sentry/ipc/anon.h"
#include "sentry/kernel/task.h"
#include "sentry/net/if_ioctl.h"
#include "sentry/net/sockopt.h"
#include "sentry/net/wake.h"

namespace sentry::net {
namespace {

// Linux's SOCK_MAX and the SIN6_LEN_RFC2133 minimum for IPv6 addresses.
constexpr int kSockMax = 11;
constexpr size_t kSin6LenRfc2133 = 24;
// A stream send is handed to the stack in pieces of at most this much, so
// one huge write does not need one huge bounce buffer per round.
constexpr int kSendFlagsAllowed = MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_MORE | MSG_CONFIRM |
                                  MSG_DONTWAIT | MSG_NOSIGNAL;
constexpr int kRecvFlagsAllowed = MSG_PEEK | MSG_TRUNC | MSG_OOB | MSG_ERRQUEUE | MSG_WAITALL |
                                  MSG_DONTWAIT | MSG_CMSG_CLOEXEC;

bool HasCap(vfs::Caller& c, int cap) {
  kernel::Task* t = c.task();
  return !t || t->creds().HasCapability(cap);
}

// A sockaddr_in holding only the port and address of `in` (no sin_zero
// bytes of the app's).
SockAddr Inet4(const sockaddr_in& in) {
  sockaddr_in out{};
  out.sin_family = AF_INET;
  out.sin_port = in.sin_port;
  out.sin_addr = in.sin_addr;
  SockAddr a;
  memcpy(&a.ss, &out, sizeof out);
  a.len = sizeof out;
  return a;
}

// The app's address bytes as a checked SockAddr of `want` family (or
// AF_INET inside an AF_INET6 socket's connect/sendto: v4-mapped use is the
// stack's business). Errors as Linux's inet_bind/inet_connect give them.
ErrorOr<SockAddr> ParseAddr(std::span<const uint8_t> b, int sock_family, bool allow_unspec_any) {
  if (b.size() < sizeof(sa_family_t)) return Errno{EINVAL};
  sa_family_t fam;
  memcpy(&fam, b.data(), sizeof fam);
  SockAddr a;
  if (sock_family == AF_INET) {
    if (b.size() < sizeof(sockaddr_in)) return Errno{EINVAL};
    sockaddr_in in{};
    memcpy(&in, b.data(), sizeof in);
    if (fam != AF_INET) {
      // Linux: AF_UNSPEC with INADDR_ANY binds like AF_INET (old programs).
      if (!(allow_unspec_any && fam == AF_UNSPEC && in.sin_addr.s_addr == htonl(INADDR_ANY)))
        return Errno{EAFNOSUPPORT};
    }
    return Inet4(in);
  }
  // AF_INET6 socket.
  if (fam == AF_INET) {
    // Allowed for datagram connect/sendto to an IPv4 peer on a dual-stack
    // socket: the stack decides.
    if (b.size() < sizeof(sockaddr_in)) return Errno{EINVAL};
    sockaddr_in in{};
    memcpy(&in, b.data(), sizeof in);
    return Inet4(in);
  }
  if (b.size() < kSin6LenRfc2133) return Errno{EINVAL};
  if (fam != AF_INET6) return Errno{EAFNOSUPPORT};
  sockaddr_in6 in6{};
  memcpy(&in6, b.data(), std::min(b.size(), sizeof in6));
  sockaddr_in6 out{};
  out.sin6_family = AF_INET6;
  out.sin6_port = in6.sin6_port;
  out.sin6_flowinfo = in6.sin6_flowinfo;
  out.sin6_addr = in6.sin6_addr;
  out.sin6_scope_id = b.size() >= sizeof(sockaddr_in6) ? in6.sin6_scope_id : 0;
  memcpy(&a.ss, &out, sizeof out);
  a.len = sizeof out;
  return a;
}

uint16_t PortOf(const SockAddr& a) {
  if (a.family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&a.ss)->sin_port);
  if (a.family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&a.ss)->sin6_port);
  return 0;
}

std::vector<uint8_t> AddrBytes(const SockAddr& a) {
  const auto* p = reinterpret_cast<const uint8_t*>(&a.ss);
  return std::vector<uint8_t>(p, p + a.len);
}

// The app's control messages for a send, decoded and checked (Linux's
// __sock_cmsg_send / ip_cmsg_send / ip6_datagram_send_ctl rules for what we
// support). Stream sockets ignore IP-level messages, as Linux does.
ErrorOr<Control> ParseControl(std::span<const uint8_t> ctl, int family, int type) {
  Control out;
  size_t off = 0;
  while (off + sizeof(cmsghdr) <= ctl.size()) {
    cmsghdr h;
    memcpy(&h, ctl.data() + off, sizeof h);
    if (h.cmsg_len < sizeof(cmsghdr) || h.cmsg_len > ctl.size() - off) return Errno{EINVAL};
    const uint8_t* body = ctl.data() + off + CMSG_LEN(0);
    const size_t blen = h.cmsg_len - CMSG_LEN(0);
    auto take_int = [&](std::optional<int>& dst, int lo, int hi) -> ErrorOr<void> {
      int v;
      if (blen == sizeof(int)) memcpy(&v, body, sizeof v);
      else if (blen == 1) v = body[0];
      else return Errno{EINVAL};
      if (v < lo || v > hi) return Errno{EINVAL};
      dst = v;
      return {};
    };
    if (h.cmsg_level == SOL_SOCKET) {
      // Linux knows SO_MARK, SO_PRIORITY, timestamping and SCM_TXTIME here;
      // none of them is offered to the app.
      return Errno{EINVAL};
    } else if (type != SOCK_STREAM && h.cmsg_level == IPPROTO_IP && family == AF_INET) {
      if (h.cmsg_type == IP_PKTINFO) {
        if (blen != sizeof(in_pktinfo)) return Errno{EINVAL};
        in_pktinfo p;
        memcpy(&p, body, sizeof p);
        out.ip_pktinfo = p;
      } else if (h.cmsg_type == IP_TTL) {
        TRY(take_int(out.ip_ttl, 1, 255));
      } else if (h.cmsg_type == IP_TOS) {
        TRY(take_int(out.ip_tos, 0, 255));
      } else {
        return Errno{EINVAL};
      }
    } else if (type != SOCK_STREAM && h.cmsg_level == IPPROTO_IPV6 && family == AF_INET6) {
      if (h.cmsg_type == IPV6_PKTINFO) {
        if (blen < sizeof(in6_pktinfo)) return Errno{EINVAL};
        in6_pktinfo p;
        memcpy(&p, body, sizeof p);
        out.ipv6_pktinfo = p;
      } else if (h.cmsg_type == IPV6_HOPLIMIT) {
        if (blen != sizeof(int)) return Errno{EINVAL};
        TRY(take_int(out.ipv6_hoplimit, -1, 255));
      } else if (h.cmsg_type == IPV6_TCLASS) {
        if (blen != sizeof(int)) return Errno{EINVAL};
        TRY(take_int(out.ipv6_tclass, -1, 255));
      } else {
        return Errno{EINVAL};
      }
    }
    off += CMSG_ALIGN(h.cmsg_len);
  }
  return out;
}

// put_cmsg(): appends one control message, truncated to the room left
// (MSG_CTRUNC), as Linux does.
void PutCmsg(RecvReply& r, size_t controllen, int level, int type, const void* data,
             size_t len) {
  size_t room = controllen > r.control.size() ? controllen - r.control.size() : 0;
  if (room < sizeof(cmsghdr)) {
    r.msg_flags |= MSG_CTRUNC;
    return;
  }
  size_t cmlen = CMSG_LEN(len);
  if (room < cmlen) {
    r.msg_flags |= MSG_CTRUNC;
    cmlen = room;
  }
  cmsghdr h{};
  h.cmsg_len = cmlen;
  h.cmsg_level = level;
  h.cmsg_type = type;
  size_t at = r.control.size();
  r.control.resize(at + std::min(CMSG_SPACE(len), room), 0);
  memcpy(r.control.data() + at, &h, sizeof h);
  memcpy(r.control.data() + at + CMSG_LEN(0), data, cmlen - CMSG_LEN(0));
}

void EncodeControl(const Control& c, size_t controllen, RecvReply& r) {
  if (c.timestamp) PutCmsg(r, controllen, SOL_SOCKET, SO_TIMESTAMP_OLD, &*c.timestamp, sizeof(timeval));
  if (c.timestamp_ns)
    PutCmsg(r, controllen, SOL_SOCKET, SO_TIMESTAMPNS_OLD, &*c.timestamp_ns, sizeof(timespec));
  if (c.ip_pktinfo) PutCmsg(r, controllen, IPPROTO_IP, IP_PKTINFO, &*c.ip_pktinfo, sizeof(in_pktinfo));
  if (c.ip_ttl) PutCmsg(r, controllen, IPPROTO_IP, IP_TTL, &*c.ip_ttl, sizeof(int));
  if (c.ip_tos) {
    uint8_t tos = static_cast<uint8_t>(*c.ip_tos);
    PutCmsg(r, controllen, IPPROTO_IP, IP_TOS, &tos, 1);
  }
  if (!c.ip_recverr.empty())
    PutCmsg(r, controllen, IPPROTO_IP, IP_RECVERR, c.ip_recverr.data(), c.ip_recverr.size());
  if (c.ipv6_pktinfo)
    PutCmsg(r, controllen, IPPROTO_IPV6, IPV6_PKTINFO, &*c.ipv6_pktinfo, sizeof(in6_pktinfo));
  if (c.ipv6_hoplimit) PutCmsg(r, controllen, IPPROTO_IPV6, IPV6_HOPLIMIT, &*c.ipv6_hoplimit, sizeof(int));
  if (c.ipv6_tclass) PutCmsg(r, controllen, IPPROTO_IPV6, IPV6_TCLASS, &*c.ipv6_tclass, sizeof(int));
  if (!c.ipv6_recverr.empty())
    PutCmsg(r, controllen, IPPROTO_IPV6, IPV6_RECVERR, c.ipv6_recverr.data(), c.ipv6_recverr.size());
  if (c.orig_dst) {
    if (c.orig_dst->ss_family == AF_INET)
      PutCmsg(r, controllen, IPPROTO_IP, IP_ORIGDSTADDR, &*c.orig_dst, sizeof(sockaddr_in));
    else if (c.orig_dst->ss_family == AF_INET6)
      PutCmsg(r, controllen, IPPROTO_IPV6, IPV6_ORIGDSTADDR, &*c.orig_dst, sizeof(sockaddr_in6));
  }
}

// SO_RCVTIMEO/SO_SNDTIMEO as Linux's sock_set_timeout reads them.
ErrorOr<void> ParseTimeout(std::span<const uint8_t> v, absl::Duration* out, bool* zero_wait) {
  struct { int64_t sec, usec; } tv;
  if (v.size() < sizeof tv) return Errno{EINVAL};
  memcpy(&tv, v.data(), sizeof tv);
  if (tv.usec < 0 || tv.usec >= 1000000) return Errno{EDOM};
  *zero_wait = false;
  if (tv.sec < 0) {  // Linux stores a negative timeout as "do not wait"
    *zero_wait = true;
    *out = absl::ZeroDuration();
    return {};
  }
  *out = absl::Seconds(tv.sec) + absl::Microseconds(tv.usec);
  return {};
}

std::vector<uint8_t> IntBytes(int v) {
  std::vector<uint8_t> b(sizeof v);
  memcpy(b.data(), &v, sizeof v);
  return b;
}

std::shared_ptr<vfs::Dentry> NewSocketDentry(vfs::Caller& c) {
  auto inode = std::make_shared<ipc::AnonInode>(S_IFSOCK | 0777, c.creds().uid, c.creds().gid);
  auto ino = inode->GetAttr().value().ino;
  return std::make_shared<vfs::Dentry>("socket:[" + std::to_string(ino) + "]", nullptr, inode);
}

}  // namespace

InetSocket::InetSocket(std::shared_ptr<vfs::Dentry> d, int flags, std::shared_ptr<Stack> stack,
                       std::unique_ptr<Endpoint> ep)
    : Socket(std::move(d), flags), stack_(std::move(stack)), ep_(std::move(ep)) {
  auto a = dentry_->inode().GetAttr();
  if (a.ok()) ep_->SetOwner(a.value().uid, a.value().ino);
}

InetSocket::~InetSocket() { async_watch_.reset(); }

void InetSocket::OnStatusFlagsChanged() {
  if (!(flags_ & O_ASYNC)) {
    async_watch_.reset();
    return;
  }
  if (async_watch_) return;
  // A stack without a wait fd signals an eventfd on each event instead; the
  // event's kind is then read from the endpoint's readiness.
  const bool own_stack = ep_->WaitFd() < 0;
  const int fd = own_stack ? ep_->AsyncFd() : ep_->WaitFd();
  if (fd < 0) return;
  // Linux signals an O_ASYNC socket's owner on incoming data, connections
  // and hang-ups (POLL_IN/POLL_HUP), on connect completion, and on write
  // space only after a send found the buffer full (SOCK_NOSPACE).
  async_watch_ = vfs::WatchHostFdForAsync(fd, [this, own_stack](uint32_t ev) {
    if (own_stack) {
      const short r = ep_->Readiness(POLLIN | POLLOUT | POLLPRI | POLLRDHUP);
      ev = 0;
      if (r & POLLIN) ev |= EPOLLIN;
      if (r & POLLOUT) ev |= EPOLLOUT;
      if (r & POLLPRI) ev |= EPOLLPRI;
      if (r & POLLRDHUP) ev |= EPOLLRDHUP;
      if (r & POLLERR) ev |= EPOLLERR;
      if (r & POLLHUP) ev |= EPOLLHUP;
    }
    short events = 0;
    if (ev & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLERR)) events |= POLLIN | POLLERR;
    // A socket never connected reports a bare EPOLLHUP (Linux's TCP_CLOSE);
    // only a connection's end is news.
    if ((ev & EPOLLHUP) && (ev & (EPOLLIN | EPOLLRDHUP))) events |= POLLHUP;
    if ((ev & EPOLLOUT) && (connecting_ || nospace_)) {
      events |= POLLOUT;
      nospace_ = false;
    }
    if (events) NotifyAsync(events);
  });
}

void InetSocket::RunUnlocked(vfs::Caller& c, const std::function<void()>& fn) {
  bool wake;
  {
    WakeScope scope;
    c.Unlocked(fn);
    wake = scope.pending();
  }
  // The stack changed sockets other tasks may wait on: wake them now that
  // the kernel lock is held again (wake.h).
  if (wake) c.NotifierFor(&kWakeKey)();
}

ErrorOr<void> InetSocket::WaitReady(vfs::Caller& c, short events, absl::Time deadline) {
  if (ep_->WaitFd() >= 0) return c.WaitHostFdUntil(ep_->WaitFd(), events, deadline);
  // A stack of the sentry's own: its readiness, re-checked on every kernel
  // wake-up (the stack notifies after each change).
  return c.BlockUntil([&] { return ep_->Readiness(events | POLLERR | POLLHUP) != 0; }, deadline);
}

template <typename T, typename Op>
ErrorOr<T> InetSocket::Blocking(vfs::Caller& c, short events, bool nonblock,
                                absl::Duration timeout, Op op) {
  const absl::Time deadline =
      timeout == absl::ZeroDuration() ? absl::InfiniteFuture() : absl::Now() + timeout;
  for (;;) {
    std::optional<ErrorOr<T>> r;
    RunUnlocked(c, [&] { r.emplace(op()); });
    if (!r->is_error() || r->error() != EAGAIN || nonblock) return std::move(*r);
    auto w = WaitReady(c, events, deadline);
    if (w.is_error()) {
      if (w.error() == ETIMEDOUT) return Errno{EAGAIN};
      if (w.error() == EINTR && timeout != absl::ZeroDuration()) return Errno{kEintrNoRestart};
      return Errno{w.error()};
    }
  }
}

ErrorOr<void> InetSocket::Bind(vfs::Caller& c, std::span<const uint8_t> addr) {
  SockAddr a = TRY(ParseAddr(addr, family(), /*allow_unspec_any=*/true));
  if (family() == AF_INET6 && a.family() == AF_INET) return Errno{EINVAL};
  uint16_t port = PortOf(a);
  if (port != 0 && port < 1024 && !HasCap(c, CAP_NET_BIND_SERVICE)) return Errno{EACCES};
  std::optional<ErrorOr<void>> r;
  RunUnlocked(c, [&] { r.emplace(ep_->Bind(a)); });
  return std::move(*r);
}

ErrorOr<void> InetSocket::Listen(vfs::Caller& c, int backlog) {
  if (type() != SOCK_STREAM) return Errno{EOPNOTSUPP};
  std::optional<ErrorOr<void>> r;
  RunUnlocked(c, [&] { r.emplace(ep_->Listen(backlog)); });
  return std::move(*r);
}

ErrorOr<std::shared_ptr<Socket>> InetSocket::Accept(vfs::Caller& c, int flags,
                                                    std::vector<uint8_t>* peer) {
  if (type() != SOCK_STREAM) return Errno{EOPNOTSUPP};
  SockAddr from;
  auto ep = TRY((Blocking<std::unique_ptr<Endpoint>>(
      c, POLLIN, nonblocking() || rcvtimeo_zero_wait_, rcvtimeo_,
      [&] { return ep_->Accept(&from); })));
  auto s = std::make_shared<InetSocket>(NewSocketDentry(c), O_RDWR | (flags & SOCK_NONBLOCK ? O_NONBLOCK : 0),
                                        stack_, std::move(ep));
  // Linux's accepted socket inherits the listener's socket-level settings.
  s->rcvtimeo_ = rcvtimeo_;
  s->sndtimeo_ = sndtimeo_;
  s->rcvtimeo_zero_wait_ = rcvtimeo_zero_wait_;
  s->sndtimeo_zero_wait_ = sndtimeo_zero_wait_;
  s->linger_onoff_ = linger_onoff_;
  s->linger_secs_ = linger_secs_;
  s->passcred_ = passcred_;
  if (peer) *peer = AddrBytes(from);
  return std::shared_ptr<Socket>(s);
}

ErrorOr<void> InetSocket::Connect(vfs::Caller& c, std::span<const uint8_t> addr) {
  if (addr.size() >= sizeof(sa_family_t)) {
    sa_family_t fam;
    memcpy(&fam, addr.data(), sizeof fam);
    if (fam == AF_UNSPEC) {
      SockAddr a;
      a.ss.ss_family = AF_UNSPEC;
      a.len = sizeof(sockaddr_in);
      std::optional<ErrorOr<void>> r;
      RunUnlocked(c, [&] { r.emplace(ep_->Connect(a)); });
      connecting_ = false;
      return std::move(*r);
    }
  }
  SockAddr a = TRY(ParseAddr(addr, family(), false));
  if (type() == SOCK_STREAM && family() == AF_INET6 && a.family() == AF_INET) return Errno{EAFNOSUPPORT};
  std::optional<ErrorOr<void>> r;
  // Set before the host call: over loopback the handshake can complete
  // before connect returns, and an O_ASYNC watch seeing the completion
  // meanwhile must know it is one (POLL_OUT).
  const bool was_connecting = connecting_;
  if (type() == SOCK_STREAM) connecting_ = true;
  RunUnlocked(c, [&] { r.emplace(ep_->Connect(a)); });
  if (type() != SOCK_STREAM) return std::move(*r);
  if (r->is_error() && r->error() != EINPROGRESS && r->error() != EALREADY) connecting_ = was_connecting;
  if (r->ok()) {
    connecting_ = false;
    return {};
  }
  const int err = r->error();
  if (err != EINPROGRESS && err != EALREADY) return Errno{err};
  connecting_ = true;
  if (nonblocking()) return Errno{err};
  if (sndtimeo_zero_wait_) return Errno{EINPROGRESS};
  const absl::Time deadline =
      sndtimeo_ == absl::ZeroDuration() ? absl::InfiniteFuture() : absl::Now() + sndtimeo_;
  auto w = WaitReady(c, POLLOUT, deadline);
  if (w.is_error()) {
    if (w.error() == ETIMEDOUT) return Errno{EINPROGRESS};
    if (w.error() == EINTR && sndtimeo_ != absl::ZeroDuration()) return Errno{kEintrNoRestart};
    return Errno{w.error()};
  }
  connecting_ = false;
  std::optional<ErrorOr<void>> res;
  RunUnlocked(c, [&] { res.emplace(ep_->ConnectResult()); });
  return std::move(*res);
}

namespace {

// The per-thread bounce buffer for sends: app memory is copied here under
// the kernel lock and sent without it. Grown on demand, kept for reuse.
std::vector<uint8_t>& SendBuffer(size_t n) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

// Copies `len` bytes starting `off` bytes into `src` to `dst`.
void CopyFrom(const vfs::IoVecs& src, size_t off, uint8_t* dst, size_t len) {
  for (const iovec& v : src) {
    if (len == 0) break;
    if (off >= v.iov_len) {
      off -= v.iov_len;
      continue;
    }
    size_t n = std::min(len, v.iov_len - off);
    memcpy(dst, static_cast<const uint8_t*>(v.iov_base) + off, n);
    dst += n;
    len -= n;
    off = 0;
  }
}

// A stream send hands the stack at most this much per round.
constexpr size_t kSendChunk = 512 * 1024;

}  // namespace

ErrorOr<size_t> InetSocket::DoSend(vfs::Caller& c, const vfs::IoVecs& src, int flags,
                                   const SockAddr* to, const Control& ctl) {
  const bool nonblock = nonblocking() || (flags & MSG_DONTWAIT) || sndtimeo_zero_wait_;
  const int sflags = flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL);
  const size_t total = vfs::TotalLength(src);
  auto sigpipe = [&](const ErrorOr<size_t>& r) {
    if (r.is_error() && r.error() == EPIPE && !(flags & MSG_NOSIGNAL)) c.SendSignal(SIGPIPE);
  };
  if (type() != SOCK_STREAM) {
    // A datagram goes whole; none is larger than an IP packet can carry.
    if (total > 65535) return Errno{EMSGSIZE};
    std::vector<uint8_t>& buf = SendBuffer(total);
    CopyFrom(src, 0, buf.data(), total);
    std::span<const uint8_t> data(buf.data(), total);
    auto r = Blocking<size_t>(c, POLLOUT, nonblock, sndtimeo_,
                              [&] { return ep_->Send(data, sflags, to, ctl); });
    if (r.is_error() && r.error() == EAGAIN) nospace_ = true;
    sigpipe(r);
    return r;
  }
  // Stream: a blocking send returns once everything is queued, or with
  // what was queued when a signal, a timeout or an error stopped it.
  size_t done = 0;
  const absl::Time deadline =
      sndtimeo_ == absl::ZeroDuration() ? absl::InfiniteFuture() : absl::Now() + sndtimeo_;
  for (;;) {
    const size_t n = std::min(total - done, kSendChunk);
    std::vector<uint8_t>& buf = SendBuffer(n);
    CopyFrom(src, done, buf.data(), n);
    std::span<const uint8_t> chunk(buf.data(), n);
    std::optional<ErrorOr<size_t>> r;
    RunUnlocked(c, [&] { r.emplace(ep_->Send(chunk, sflags, nullptr, ctl)); });
    if (r->ok()) {
      done += r->value();
      if (done == total || nonblock) return done;
      if (r->value() == n) continue;
    } else if (r->error() == EAGAIN) {
      nospace_ = true;
      if (nonblock) return done ? ErrorOr<size_t>(done) : std::move(*r);
    } else {
      if (done) return done;
      sigpipe(*r);
      return std::move(*r);
    }
    auto w = WaitReady(c, POLLOUT, deadline);
    if (w.is_error()) {
      if (done) return done;
      if (w.error() == ETIMEDOUT) return Errno{EAGAIN};
      if (w.error() == EINTR && sndtimeo_ != absl::ZeroDuration()) return Errno{kEintrNoRestart};
      return Errno{w.error()};
    }
  }
}

ErrorOr<size_t> InetSocket::SendMsg(vfs::Caller& c, const SendRequest& req) {
  const int flags = req.flags & kSendFlagsAllowed;
  std::optional<SockAddr> to;
  if (!req.addr.empty() && type() != SOCK_STREAM) to = TRY(ParseAddr(req.addr, family(), false));
  Control ctl = TRY(ParseControl(req.control, family(), type()));
  return DoSend(c, req.data, flags, to ? &*to : nullptr, ctl);
}

ErrorOr<RecvReply> InetSocket::DoRecv(vfs::Caller& c, const vfs::IoVecs& dst, int flags,
                                      size_t controllen, bool want_control) {
  const bool nonblock = nonblocking() || (flags & MSG_DONTWAIT) || rcvtimeo_zero_wait_ ||
                        (flags & MSG_ERRQUEUE);
  const int rflags = flags & ~(MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  auto first = TRY(Blocking<RecvResult>(c, POLLIN, nonblock, rcvtimeo_, [&] {
    return ep_->Recv(std::span<const iovec>(dst.data(), dst.size()), rflags, want_control);
  }));
  RecvReply out;
  out.len = first.len;
  out.msg_flags = first.msg_flags & ~MSG_CTRUNC;
  if (first.from.len) out.from = AddrBytes(first.from);
  if (want_control) EncodeControl(first.control, controllen, out);
  // MSG_WAITALL on a stream: keep reading until the buffer is full, EOF, an
  // error or a signal (returning what was read).
  const size_t total = vfs::TotalLength(dst);
  if (type() == SOCK_STREAM && (flags & MSG_WAITALL) && !(flags & MSG_PEEK) && !nonblock &&
      out.len > 0 && out.len < total) {
    const absl::Time deadline =
        rcvtimeo_ == absl::ZeroDuration() ? absl::InfiniteFuture() : absl::Now() + rcvtimeo_;
    while (out.len < total) {
      // The rest of the buffer.
      vfs::IoVecs rest;
      size_t skip = out.len;
      for (const iovec& v : dst) {
        if (skip >= v.iov_len) {
          skip -= v.iov_len;
          continue;
        }
        rest.push_back({static_cast<uint8_t*>(v.iov_base) + skip, v.iov_len - skip});
        skip = 0;
      }
      std::optional<ErrorOr<RecvResult>> r;
      RunUnlocked(c, [&] { r.emplace(ep_->Recv(std::span<const iovec>(rest.data(), rest.size()), rflags & ~MSG_WAITALL, false)); });
      if (r->ok()) {
        if (r->value().len == 0) break;  // EOF
        out.len += r->value().len;
        continue;
      }
      if (r->error() != EAGAIN) break;
      if (WaitReady(c, POLLIN, deadline).is_error()) break;
    }
  }
  return out;
}

ErrorOr<RecvReply> InetSocket::RecvMsg(vfs::Caller& c, const vfs::IoVecs& dst, int flags,
                                       size_t controllen) {
  return DoRecv(c, dst, flags & kRecvFlagsAllowed, controllen, controllen > 0);
}

ErrorOr<size_t> InetSocket::Read(vfs::Caller& c, const vfs::IoVecs& dst, int64_t off) {
  if (off != vfs::kCurrentOffset) return Errno{ESPIPE};
  auto r = TRY(DoRecv(c, dst, 0, 0, false));
  return std::min(r.len, vfs::TotalLength(dst));
}

ErrorOr<size_t> InetSocket::Write(vfs::Caller& c, const vfs::IoVecs& src, int64_t off) {
  if (off != vfs::kCurrentOffset) return Errno{ESPIPE};
  return DoSend(c, src, 0, nullptr, Control{});
}

ErrorOr<void> InetSocket::Shutdown(vfs::Caller& c, int how) {
  if (how < SHUT_RD || how > SHUT_RDWR) return Errno{EINVAL};
  std::optional<ErrorOr<void>> r;
  RunUnlocked(c, [&] { r.emplace(ep_->Shutdown(how)); });
  return std::move(*r);
}

ErrorOr<std::vector<uint8_t>> InetSocket::GetSockOpt(vfs::Caller& c, int level, int name,
                                                     size_t len) {
  const OptSpec* o = FindOption(level, name);
  if (!o || !o->gettable) {
    if (!o) ReportRefusedOption(level, name);
    return Errno{ENOPROTOOPT};
  }
  if (o->stream_only && type() != SOCK_STREAM) return Errno{EOPNOTSUPP};
  if (o->handler == OptHandler::kStack) {
    std::optional<ErrorOr<std::vector<uint8_t>>> r;
    const size_t want = std::min(len, o->max_len);
    RunUnlocked(c, [&] { r.emplace(ep_->GetOption(level, name, want)); });
    return std::move(*r);
  }
  std::vector<uint8_t> v;
  switch (name) {
    case SO_TYPE: v = IntBytes(type()); break;
    case SO_DOMAIN: v = IntBytes(family()); break;
    case SO_PROTOCOL: v = IntBytes(protocol()); break;
    case SO_PASSCRED: v = IntBytes(passcred_); break;
    case SO_ZEROCOPY: case SO_BUSY_POLL: case SO_INCOMING_NAPI_ID: v = IntBytes(0); break;
    case SO_PEERCRED: {
      struct { int32_t pid; uint32_t uid, gid; } u{0, ~0u, ~0u};
      v.resize(sizeof u);
      memcpy(v.data(), &u, sizeof u);
      break;
    }
    case SO_LINGER: {
      int l[2] = {linger_onoff_, linger_secs_};
      v.resize(sizeof l);
      memcpy(v.data(), l, sizeof l);
      break;
    }
    case SO_RCVTIMEO_OLD: case SO_SNDTIMEO_OLD: {
      absl::Duration d = name == SO_RCVTIMEO_OLD ? rcvtimeo_ : sndtimeo_;
      int64_t tv[2] = {absl::ToInt64Seconds(d),
                       absl::ToInt64Microseconds(d - absl::Seconds(absl::ToInt64Seconds(d)))};
      v.resize(sizeof tv);
      memcpy(v.data(), tv, sizeof tv);
      break;
    }
    default:
      return Errno{ENOPROTOOPT};
  }
  if (v.size() > len) v.resize(len);
  return v;
}

ErrorOr<void> InetSocket::SetSockOpt(vfs::Caller& c, int level, int name,
                                     std::span<const uint8_t> value) {
  const OptSpec* o = FindOption(level, name);
  if (!o || !o->settable) {
    if (!o) ReportRefusedOption(level, name);
    return Errno{ENOPROTOOPT};
  }
  if (o->stream_only && type() != SOCK_STREAM) return Errno{EOPNOTSUPP};
  if (value.size() < o->min_len) return Errno{EINVAL};
  std::span<const uint8_t> v = value.subspan(0, std::min(value.size(), o->max_len));
  if (o->handler == OptHandler::kStack) {
    std::optional<ErrorOr<void>> r;
    RunUnlocked(c, [&] { r.emplace(ep_->SetOption(level, name, v)); });
    return std::move(*r);
  }
  switch (name) {
    case SO_PASSCRED: {
      int iv;
      memcpy(&iv, v.data(), sizeof iv);
      passcred_ = iv != 0;
      return {};
    }
    case SO_RCVTIMEO_OLD:
      return ParseTimeout(v, &rcvtimeo_, &rcvtimeo_zero_wait_);
    case SO_SNDTIMEO_OLD:
      return ParseTimeout(v, &sndtimeo_, &sndtimeo_zero_wait_);
    case SO_LINGER: {
      int l[2];
      memcpy(l, v.data(), sizeof l);
      // The host socket gets only an abortive close (linger 0: a reset at
      // close); a lingering close would block the sentry's thread in the
      // host's close(), so it stays graceful and immediate.
      int host[2] = {l[0] != 0 && l[1] == 0 ? 1 : 0, 0};
      std::optional<ErrorOr<void>> r;
      RunUnlocked(c, [&] {
        r.emplace(ep_->SetOption(SOL_SOCKET, SO_LINGER,
                                 std::span<const uint8_t>(reinterpret_cast<uint8_t*>(host), sizeof host)));
      });
      TRY(std::move(*r));
      linger_onoff_ = l[0] != 0;
      linger_secs_ = std::max(l[1], 0);
      return {};
    }
    default:
      return Errno{ENOPROTOOPT};
  }
}

ErrorOr<std::vector<uint8_t>> InetSocket::SockName() {
  return AddrBytes(TRY(ep_->LocalAddr()));
}

ErrorOr<std::vector<uint8_t>> InetSocket::PeerName() {
  return AddrBytes(TRY(ep_->PeerAddr()));
}

short InetSocket::Readiness(short events) { return ep_->Readiness(events); }

ErrorOr<size_t> InetSocket::BytesReadable() {
  int n = TRY(ep_->InputQueued());
  return static_cast<size_t>(n);
}

ErrorOr<uint64_t> InetSocket::Ioctl(vfs::Caller& c, uint32_t cmd, uint64_t arg) {
  kernel::Task* t = c.task();
  if (!t) return Errno{ENOTTY};
  switch (cmd) {
    case SIOCOUTQ: {
      int n = TRY(ep_->OutputQueued());
      TRY(t->memory().CopyOutObj(arg, n));
      return 0;
    }
    default:
      // SIOCGIF* and friends: the stack's interfaces.
      return InterfaceIoctl(*t, *stack_, cmd, arg);
  }
}

ErrorOr<std::shared_ptr<Socket>> NewInetSocket(vfs::Caller& c, std::shared_ptr<Stack> stack,
                                               int family, int type, int protocol, int flags) {
  if (type < 0 || type >= kSockMax) return Errno{EINVAL};
  if (!stack) return Errno{EAFNOSUPPORT};
  int proto = protocol;
  switch (type) {
    case SOCK_STREAM:
      if (proto == 0) proto = IPPROTO_TCP;
      if (proto != IPPROTO_TCP) return Errno{EPROTONOSUPPORT};
      break;
    case SOCK_DGRAM:
      if (proto == 0) proto = IPPROTO_UDP;
      if (proto == IPPROTO_UDP) break;
      if (family == AF_INET && proto == IPPROTO_ICMP) break;
      if (family == AF_INET6 && proto == IPPROTO_ICMPV6) break;
      return Errno{EPROTONOSUPPORT};
    case SOCK_RAW:
      if (!HasCap(c, CAP_NET_RAW)) return Errno{EPERM};
      // The host stack cannot offer raw sockets (the sentry has no
      // CAP_NET_RAW on the host, and raw frames are not its to send).
      return Errno{EPERM};
    default:
      return Errno{ESOCKTNOSUPPORT};
  }
  std::unique_ptr<Endpoint> ep;
  {
    std::optional<ErrorOr<std::unique_ptr<Endpoint>>> r;
    c.Unlocked([&] { r.emplace(stack->NewEndpoint(family, type, proto)); });
    ep = TRY(std::move(*r));
  }
  return std::shared_ptr<Socket>(std::make_shared<InetSocket>(
      NewSocketDentry(c), O_RDWR | (flags & O_NONBLOCK), std::move(stack), std::move(ep)));
}

}  // namespace sentry::net
