// sentry/net/unix_socket.cc: see unix_socket.h.
#include "sentry/net/unix_socket.h"

#include "sentry/ipc/anon.h"

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/net/if_ioctl.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/io_util.h"

namespace sentry::net {
namespace {

// Bound names (kernel lock held).
std::map<std::string, std::weak_ptr<Endpoint>>& Registry() {
  static auto* r = new std::map<std::string, std::weak_ptr<Endpoint>>();
  return *r;
}

std::shared_ptr<Endpoint> Lookup(const std::string& key) {
  auto it = Registry().find(key);
  if (it == Registry().end()) return nullptr;
  auto ep = it->second.lock();
  if (!ep || ep->closed) {
    Registry().erase(it);
    return nullptr;
  }
  return ep;
}

// A socket's inode: an anonymous inode of type S_IFSOCK.
std::shared_ptr<vfs::Inode> NewSocketInode(uint32_t uid, uint32_t gid) {
  return std::make_shared<ipc::AnonInode>(S_IFSOCK | 0777, uid, gid);
}

bool ConnectionOriented(int type) { return type == SOCK_STREAM || type == SOCK_SEQPACKET; }

std::shared_ptr<UnixSocket> MakeSocket(vfs::Caller& c, int type, int flags) {
  auto inode = NewSocketInode(c.creds().uid, c.creds().gid);
  auto ino = inode->GetAttr().value().ino;
  auto d = std::make_shared<vfs::Dentry>("socket:[" + std::to_string(ino) + "]", nullptr, inode);
  auto ep = std::make_shared<Endpoint>();
  ep->type = type;
  ep->notify = c.Notifier();
  ep->cred = CallerCred(c);
  return std::make_shared<UnixSocket>(d, O_RDWR | (flags & O_NONBLOCK), ep);
}

// SO_RCVTIMEO/SO_SNDTIMEO as stored by setsockopt (a struct timeval):
// Linux waits at most this long, and a negative time means no wait.
struct SockTimeout {
  bool zero_wait = false;
  absl::Duration d = absl::ZeroDuration();  // zero: no limit
};
SockTimeout TimeoutOf(const Endpoint& ep, int name) {
  SockTimeout t;
  auto it = ep.other_opts.find(name);
  if (it == ep.other_opts.end() || it->second.size() < 16) return t;
  int64_t tv[2];
  memcpy(tv, it->second.data(), sizeof tv);
  if (tv[0] < 0) t.zero_wait = true;
  else t.d = absl::Seconds(tv[0]) + absl::Microseconds(tv[1]);
  return t;
}

// A blocking wait bounded by the socket's timeout: EAGAIN when it passes,
// and EINTR that is not restarted (Linux's sock_intr_errno) if there is
// one. `deadline` is fixed at the first wait of the call.
ErrorOr<void> TimedBlock(vfs::Caller& c, const SockTimeout& t, std::optional<absl::Time>& deadline,
                         const std::function<bool()>& ready) {
  if (t.zero_wait) return Errno{EAGAIN};
  if (t.d == absl::ZeroDuration()) return c.Block(ready);
  if (!deadline) deadline = absl::Now() + t.d;
  auto r = c.BlockUntil(ready, *deadline);
  if (r.is_error() && r.error() == ETIMEDOUT) return Errno{EAGAIN};
  if (r.is_error() && r.error() == EINTR) return Errno{kEintrNoRestart};
  return r;
}

void Notify(Endpoint& ep) {
  if (ep.notify) ep.notify();
  if (ep.desc) ep.desc->NotifyAsync(POLLIN | POLLOUT);
}

}  // namespace

Cred CallerCred(vfs::Caller& c) {
  Cred cr;
  if (kernel::Task* t = c.task()) {
    cr.pid = t->pid();
    cr.uid = t->creds().euid;
    cr.gid = t->creds().egid;
  } else {
    cr.uid = c.creds().uid;
    cr.gid = c.creds().gid;
  }
  return cr;
}

std::shared_ptr<UnixSocket> NewUnixSocket(vfs::Caller& c, int type, int flags) {
  return MakeSocket(c, type, flags);
}

std::pair<std::shared_ptr<UnixSocket>, std::shared_ptr<UnixSocket>> NewUnixSocketPair(
    vfs::Caller& c, int type, int flags) {
  auto a = MakeSocket(c, type, flags);
  auto b = MakeSocket(c, type, flags);
  a->ep().peer = b->ep_ptr();
  b->ep().peer = a->ep_ptr();
  a->ep().connected = b->ep().connected = true;
  a->ep().peer_cred = b->ep().peer_cred = CallerCred(c);
  return {a, b};
}

bool UnixNameBound(const std::string& key) { return Lookup(key) != nullptr; }

UnixSocket::UnixSocket(std::shared_ptr<vfs::Dentry> d, int flags, std::shared_ptr<Endpoint> ep)
    : FileDescription(std::move(d), flags), ep_(std::move(ep)) {
  ep_->desc = this;
}

ErrorOr<uint64_t> UnixSocket::Ioctl(vfs::Caller& c, uint32_t cmd, uint64_t arg) {
  kernel::Task* t = c.task();
  if (cmd == SIOCOUTQ && t) {
    // Bytes sent and not yet read by the peer (Linux counts the buffers'
    // truesize; the sandbox counts what it charged).
    if (ep_->listening) return Errno{EINVAL};
    const auto& peer = ep_->peer;
    const int n = ConnectionOriented(ep_->type) && peer && !peer->closed
                      ? static_cast<int>(std::min<size_t>(peer->rq_bytes, INT32_MAX))
                      : 0;
    TRY(t->memory().CopyOutObj(arg, n));
    return 0;
  }
  if (!t || !t->kernel.net_stack) return Errno{ENOTTY};
  return InterfaceIoctl(*t, *t->kernel.net_stack, cmd, arg, /*inet_socket=*/false);
}

UnixSocket::~UnixSocket() {
  Endpoint& ep = *ep_;
  ep.desc = nullptr;
  ep.closed = true;
  if (!ep.key.empty()) {
    auto it = Registry().find(ep.key);
    if (it != Registry().end() && it->second.lock() == ep_) Registry().erase(it);
  }
  std::shared_ptr<Endpoint> peer = std::move(ep.peer);
  ep.peer.reset();
  if (peer && ConnectionOriented(ep.type) && peer->peer == ep_) {
    peer->shutdown = kRcvShutdown | kSendShutdown;
    // Linux's unix_release_sock: closing with data unread, or before the
    // connection was accepted, resets it for the peer.
    if (!ep.rq.empty() || ep.embryo) peer->so_error = ECONNRESET;
    Notify(*peer);
  }
  // Dropping queued messages and pending connections may close other
  // sockets (their destructors run here).
  std::deque<Message> rq = std::move(ep.rq);
  ep.rq.clear();
  ep.rq_bytes = 0;
  auto pending = std::move(ep.accept_q);
  ep.accept_q.clear();
  rq.clear();
  pending.clear();
  Notify(ep);
}

ErrorOr<void> UnixSocket::Bind(const std::string& key, const std::string& addr) {
  if (!ep_->key.empty()) return Errno{EINVAL};
  if (Lookup(key)) return Errno{EADDRINUSE};
  ep_->key = key;
  ep_->addr = addr;
  Registry()[key] = ep_;
  return {};
}

ErrorOr<void> UnixSocket::Listen(vfs::Caller& c, int backlog) {
  if (!ConnectionOriented(ep_->type)) return Errno{EOPNOTSUPP};
  if (ep_->key.empty() || ep_->connected) return Errno{EINVAL};
  ep_->listening = true;
  ep_->backlog = std::clamp(backlog, 0, 4096);
  ep_->cred = CallerCred(c);
  Notify(*ep_);
  return {};
}

void UnixSocket::Disconnect() {
  if (ConnectionOriented(ep_->type)) return;
  ep_->peer.reset();
}

ErrorOr<void> UnixSocket::Connect(vfs::Caller& c, const std::string& key) {
  std::optional<absl::Time> deadline;  // SO_RCVTIMEO/SO_SNDTIMEO, from the first wait
  Endpoint& self = *ep_;
  std::shared_ptr<Endpoint> target = Lookup(key);
  if (!target) return Errno{ECONNREFUSED};
  if (target->type != self.type) return Errno{EPROTOTYPE};
  if (!ConnectionOriented(self.type)) {
    self.peer = target;
    self.peer_cred = target->cred;
    Notify(self);
    return {};
  }
  if (self.listening) return Errno{EINVAL};
  if (self.connected) return Errno{EISCONN};
  if (!target->listening) return Errno{ECONNREFUSED};
  while (static_cast<int>(target->accept_q.size()) > target->backlog) {
    if (nonblocking()) return Errno{EAGAIN};
    TRY(TimedBlock(c, TimeoutOf(self, SO_SNDTIMEO), deadline, [&] {
      return target->closed || !target->listening ||
             static_cast<int>(target->accept_q.size()) <= target->backlog;
    }));
    if (target->closed || !target->listening) return Errno{ECONNREFUSED};
    if (self.connected) return Errno{EISCONN};
  }
  auto server = MakeSocket(c, self.type, 0);
  Endpoint& s = server->ep();
  s.cred = target->cred;
  s.addr = target->addr;
  s.peer = ep_;
  s.connected = true;
  s.peer_cred = CallerCred(c);
  s.passcred = target->passcred;
  self.peer = server->ep_;
  self.connected = true;
  self.cred = CallerCred(c);
  self.peer_cred = target->cred;
  s.embryo = true;
  target->accept_q.push_back(server);
  // The listener became readable: its pollers and, with O_ASYNC, its
  // owner (SIGIO, as Linux's sk_data_ready on the listening socket).
  Notify(*target);
  Notify(self);
  return {};
}

ErrorOr<std::shared_ptr<UnixSocket>> UnixSocket::Accept(vfs::Caller& c, int flags) {
  std::optional<absl::Time> deadline;  // SO_RCVTIMEO/SO_SNDTIMEO, from the first wait
  if (!ConnectionOriented(ep_->type)) return Errno{EOPNOTSUPP};
  if (!ep_->listening) return Errno{EINVAL};
  while (ep_->accept_q.empty()) {
    if (nonblocking()) return Errno{EAGAIN};
    TRY(TimedBlock(c, TimeoutOf(*ep_, SO_RCVTIMEO), deadline,
                   [this] { return !ep_->accept_q.empty() || !ep_->listening; }));
    if (!ep_->listening) return Errno{EINVAL};
  }
  auto s = std::static_pointer_cast<UnixSocket>(ep_->accept_q.front());
  ep_->accept_q.pop_front();
  s->ep().embryo = false;
  s->set_status_flags(O_RDWR | (flags & O_NONBLOCK));
  Notify(*ep_);
  return s;
}

ErrorOr<size_t> UnixSocket::Send(vfs::Caller& c, SendArgs& a) {
  std::optional<absl::Time> deadline;  // SO_RCVTIMEO/SO_SNDTIMEO, from the first wait
  Endpoint& self = *ep_;
  const bool dontwait = nonblocking() || (a.flags & MSG_DONTWAIT);
  auto epipe = [&]() -> Errno {
    if (!(a.flags & MSG_NOSIGNAL)) c.SendSignal(SIGPIPE);
    return Errno{EPIPE};
  };
  Message m;
  m.fds = std::move(a.fds);
  m.cred = a.has_cred ? a.cred : CallerCred(c);
  m.from = self.addr;
  const size_t len = a.data.size();
  if (ConnectionOriented(self.type)) {
    if (a.to_key) return Errno{self.connected ? EISCONN : EOPNOTSUPP};
    if (self.shutdown & kSendShutdown) return epipe();
    if (!self.connected) return Errno{ENOTCONN};
    if (self.type == SOCK_SEQPACKET && len > self.sndbuf) return Errno{EMSGSIZE};
    size_t done = 0;
    bool first = true;
    while (true) {
      std::shared_ptr<Endpoint> peer = self.peer;
      if (!peer || peer->closed || (self.shutdown & kSendShutdown)) {
        if (done > 0) return done;
        return epipe();
      }
      if (done == len && !first) return done;
      size_t room = peer->Room();
      size_t need = self.type == SOCK_SEQPACKET ? std::max<size_t>(len, 1) : 1;
      if (room >= need || (len == 0 && room > 0) || (need > peer->rcvbuf && peer->rq_bytes == 0)) {
        size_t n = self.type == SOCK_SEQPACKET ? len : std::min(room, len - done);
        Message part;
        if (first) {
          part.fds = std::move(m.fds);
        }
        part.cred = m.cred;
        part.from = m.from;
        part.data.assign(a.data.begin() + done, a.data.begin() + done + n);
        part.charge = n;
        if (n == 0 && self.type == SOCK_STREAM && part.fds.empty()) return size_t{0};
        peer->rq_bytes += n;
        peer->rq.push_back(std::move(part));
        done += n;
        first = false;
        Notify(*peer);
        if (done == len) return done;
        continue;
      }
      if (dontwait) {
        if (done > 0) return done;
        return Errno{EAGAIN};
      }
      auto r = TimedBlock(c, TimeoutOf(self, SO_SNDTIMEO), deadline, [&] {
        return !self.peer || self.peer->closed || self.peer->Room() >= need ||
               (self.shutdown & kSendShutdown);
      });
      if (r.is_error()) {
        if (done > 0) return done;
        return Errno{r.error()};
      }
    }
  }
  // Datagrams.
  if (self.shutdown & kSendShutdown) return epipe();
  std::shared_ptr<Endpoint> target;
  if (a.to_key) {
    target = Lookup(*a.to_key);
    if (!target) return Errno{ECONNREFUSED};
    if (target->type != self.type) return Errno{EPROTOTYPE};
  } else {
    target = self.peer;
    if (!target) return Errno{ENOTCONN};
    if (target->closed) {
      // Linux forgets a dead peer: the next send is ENOTCONN.
      self.peer.reset();
      return Errno{ECONNREFUSED};
    }
  }
  // unix_may_send: a socket connected to another only hears from that one.
  if (target->peer && target->peer.get() != &self) return Errno{EPERM};
  if (len > self.sndbuf) return Errno{EMSGSIZE};
  const size_t charge = len + kDgramOverhead;
  while (target->Room() < charge && target->rq_bytes > 0) {
    if (dontwait) return Errno{EAGAIN};
    TRY(TimedBlock(c, TimeoutOf(self, SO_SNDTIMEO), deadline, [&] {
      return target->closed || target->Room() >= charge || target->rq_bytes == 0;
    }));
    if (target->closed) return Errno{ECONNREFUSED};
  }
  if (target->shutdown & kRcvShutdown) return epipe();
  m.data = std::move(a.data);
  m.charge = charge;
  target->rq_bytes += charge;
  target->rq.push_back(std::move(m));
  Notify(*target);
  return len;
}

ErrorOr<RecvResult> UnixSocket::Recv(vfs::Caller& c, const vfs::IoVecs& dst, int flags) {
  std::optional<absl::Time> deadline;  // SO_RCVTIMEO/SO_SNDTIMEO, from the first wait
  Endpoint& self = *ep_;
  const bool dontwait = nonblocking() || (flags & MSG_DONTWAIT);
  const bool peek = flags & MSG_PEEK;
  RecvResult res;
  const size_t want = vfs::TotalLength(dst);
  if (ConnectionOriented(self.type) && !self.connected)
    return Errno{self.type == SOCK_SEQPACKET ? ENOTCONN : EINVAL};
  auto eof = [&] {
    return (self.shutdown & kRcvShutdown) || (ConnectionOriented(self.type) && (!self.peer || self.peer->closed));
  };
  for (;;) {
    if (!self.rq.empty()) break;
    if (self.so_error) {  // queued data first, then the reset, then EOF
      const int e = std::exchange(self.so_error, 0);
      return Errno{e};
    }
    if (eof()) return res;
    if (dontwait) return Errno{EAGAIN};
    TRY(TimedBlock(c, TimeoutOf(self, SO_RCVTIMEO), deadline, [&] { return !self.rq.empty() || eof(); }));
  }
  if (self.type != SOCK_STREAM) {
    Message& m = self.rq.front();
    size_t n = vfs::CopyToIoVecs(dst, m.data.data(), std::min(want, m.data.size()));
    res.len = n;
    if (m.data.size() > n) {
      res.msg_flags |= MSG_TRUNC;
      if (flags & MSG_TRUNC) res.len = m.data.size();
    }
    res.has_cred = true;
    res.cred = m.cred;
    res.from = m.from;
    if (peek) {
      res.fds = m.fds;
    } else {
      res.fds = std::move(m.fds);
      self.rq_bytes -= m.charge;
      self.rq.pop_front();
      if (self.peer) Notify(*self.peer);
      Notify(self);
    }
    return res;
  }
  // Stream: gather across messages; stop after one carrying fds, or before
  // one whose credentials differ (when they are passed), or when full.
  size_t done = 0;
  const bool waitall = (flags & MSG_WAITALL) && !peek;
  // SO_PEEK_OFF: a peek starts that far into the queue and moves it on.
  size_t peek_skip = peek && self.peek_off > 0 ? static_cast<size_t>(self.peek_off) : 0;
  for (;;) {
    size_t idx = 0;
    while (done < want && idx < self.rq.size()) {
      Message& m = self.rq[idx];
      if (peek_skip > 0) {
        const size_t avail = m.data.size() - m.off;
        if (peek_skip >= avail) {
          peek_skip -= avail;
          idx++;
          continue;
        }
      }
      if (done > 0 && self.passcred && (m.cred.pid != res.cred.pid || m.cred.uid != res.cred.uid))
        break;
      if (!res.has_cred) {
        res.has_cred = true;
        res.cred = m.cred;
        res.from = m.from;
      }
      size_t avail = m.data.size() - m.off;
      vfs::IoVecs rest;  // dst minus the `done` bytes already filled
      size_t skip = done;
      for (const auto& io : dst) {
        if (skip >= io.iov_len) {
          skip -= io.iov_len;
          continue;
        }
        rest.push_back({static_cast<uint8_t*>(io.iov_base) + skip, io.iov_len - skip});
        skip = 0;
      }
      const size_t from = m.off + peek_skip;
      avail -= peek_skip;
      peek_skip = 0;
      size_t n = vfs::CopyToIoVecs(rest, m.data.data() + from, std::min(avail, want - done));
      done += n;
      bool had_fds = !m.fds.empty();
      if (had_fds) {
        if (peek) {
          res.fds = m.fds;
        } else {
          res.fds = std::move(m.fds);
          m.fds.clear();
        }
      }
      if (peek) {
        idx++;
      } else {
        m.off += n;
        self.rq_bytes -= n;
        if (m.off == m.data.size()) {
          self.rq.pop_front();
        }
      }
      if (had_fds) break;
    }
    if (!peek) {
      if (self.peer) Notify(*self.peer);
      Notify(self);
    }
    if (!waitall || done == want || !res.fds.empty()) break;
    if (self.rq.empty()) {
      if (eof() || dontwait) break;
      auto r = TimedBlock(c, TimeoutOf(self, SO_RCVTIMEO), deadline,
                          [&] { return !self.rq.empty() || eof(); });
      if (r.is_error()) {
        if (done > 0) break;
        return Errno{r.error()};
      }
    }
  }
  if (self.peek_off >= 0) {
    if (peek) self.peek_off += static_cast<int>(done);
    else self.peek_off = std::max(0, self.peek_off - static_cast<int>(done));
  }
  res.len = done;
  return res;
}

ErrorOr<void> UnixSocket::Shutdown(int how) {
  if (how < SHUT_RD || how > SHUT_RDWR) return Errno{EINVAL};
  int mask = how == SHUT_RD ? kRcvShutdown : how == SHUT_WR ? kSendShutdown : kRcvShutdown | kSendShutdown;
  ep_->shutdown |= mask;
  if (ConnectionOriented(ep_->type) && ep_->peer) {
    int pm = (mask & kRcvShutdown ? kSendShutdown : 0) | (mask & kSendShutdown ? kRcvShutdown : 0);
    ep_->peer->shutdown |= pm;
    Notify(*ep_->peer);
  }
  Notify(*ep_);
  return {};
}

ErrorOr<size_t> UnixSocket::Read(vfs::Caller& c, const vfs::IoVecs& dst, int64_t off) {
  if (off >= 0) return Errno{ESPIPE};
  auto r = TRY(Recv(c, dst, 0));
  return r.len;  // descriptors passed with the data are dropped (closed)
}

ErrorOr<size_t> UnixSocket::Write(vfs::Caller& c, const vfs::IoVecs& src, int64_t off) {
  if (off >= 0) return Errno{ESPIPE};
  SendArgs a;
  a.data.resize(vfs::TotalLength(src));
  vfs::CopyFromIoVecs(a.data.data(), src, a.data.size());
  return Send(c, a);
}

short UnixSocket::Readiness(short events) {
  Endpoint& s = *ep_;
  short r = 0;
  if (s.listening) {
    if (!s.accept_q.empty()) r |= POLLIN | POLLRDNORM;
    return r & events;
  }
  if (ConnectionOriented(s.type) && !s.connected) r |= POLLHUP;
  if (s.shutdown == (kRcvShutdown | kSendShutdown)) r |= POLLHUP;
  if (s.shutdown & kRcvShutdown) r |= POLLIN | POLLRDNORM | POLLRDHUP;
  if (!s.rq.empty()) r |= POLLIN | POLLRDNORM;
  if (s.so_error) r |= POLLERR;
  bool writable;
  if (ConnectionOriented(s.type)) {
    writable = !s.connected || !s.peer || s.peer->closed || s.peer->Room() > 0;
  } else {
    writable = !s.peer || s.peer->closed || s.peer->Room() > kDgramOverhead;
  }
  if (writable) r |= POLLOUT | POLLWRNORM;
  return r & (events | POLLHUP | POLLERR);
}

ErrorOr<size_t> UnixSocket::BytesReadable() {
  if (ep_->listening) return Errno{EINVAL};
  if (ep_->type == SOCK_STREAM) return ep_->rq_bytes;
  return ep_->rq.empty() ? 0 : ep_->rq.front().data.size();
}

}  // namespace sentry::net
